"""One error body for every failure, as JSON for the API and as a page for people.

    {"error": {"status": 404, "code": "not_found", "message": "...",
               "errors": [{"field": "key", "message": "..."}]}}

Domain errors name what went wrong; this module alone decides which HTTP status that is.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from opendpo.errors import DomainError, InvalidValue, NoPolicyApplied, NotFound
from opendpo.security.errors import (
    AccountLocked,
    CsrfFailed,
    KeyProblem,
    LinkInvalid,
    LoginFailed,
    NotAuthenticated,
    PermissionDenied,
    RateLimited,
)
from opendpo.web.headers import SECURITY_HEADERS, response_headers
from opendpo.web.state import web_state

logger = logging.getLogger("opendpo.web.errors")

# The most specific class wins; any other domain error is a request that cannot be carried out.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    NoPolicyApplied: 503,
    NotAuthenticated: 401,
    LoginFailed: 401,
    PermissionDenied: 403,
    CsrfFailed: 403,
    AccountLocked: 423,
    RateLimited: 429,
    LinkInvalid: 400,
    InvalidValue: 422,
    KeyProblem: 503,
    DomainError: 409,
}

MESSAGES = {
    404: "There is nothing at this address.",
    500: "Something went wrong on our side. The error has been logged; please try again later.",
}

# Machine clients: JSON errors. Inside its routes OpenDSR answers in its own spec's shape;
# these are the errors raised before a route is found (unknown path, wrong method).
JSON_PREFIXES = ("/api/", "/healthz", "/opendsr/")


class FieldError(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    errors: list[FieldError] = []


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ServiceError(Exception):
    """A failure of the web service itself (not of the domain), e.g. an unreachable store."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def status_code_name(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_").replace("'", "")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIXES)


def error_response(
    request: Request, detail: ErrorDetail, headers: dict[str, str] | None = None
) -> Response:
    # Built here too: a 500 is answered outside the middleware that adds them elsewhere.
    try:
        base = response_headers(web_state(request).settings, request.url.path)
    except RuntimeError:
        base = dict(SECURITY_HEADERS)
    all_headers = {**base, **(headers or {})}
    if wants_json(request):
        return JSONResponse(
            ErrorResponse(error=detail).model_dump(), status_code=detail.status, headers=all_headers
        )
    try:
        return web_state(request).templates.TemplateResponse(
            request, "error.html", {"error": detail}, status_code=detail.status, headers=all_headers
        )
    except Exception:
        # The error page itself failed: the JSON body still tells the reader what happened.
        logger.exception("the error page could not be rendered")
        return JSONResponse(
            ErrorResponse(error=detail).model_dump(), status_code=detail.status, headers=all_headers
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 405:
        message = f"This address does not accept {request.method} requests."
    elif isinstance(exc.detail, str) and exc.detail != HTTPStatus(status).phrase:
        message = exc.detail
    else:
        message = MESSAGES.get(status, HTTPStatus(status).phrase)
    detail = ErrorDetail(status=status, code=status_code_name(status), message=message)
    return error_response(request, detail, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            # ("query", "limit") -> "limit": the source is clear from the request itself.
            field=".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0]),
            message=str(error["msg"]),
        )
        for error in exc.errors()
    ]
    detail = ErrorDetail(
        status=422,
        code="validation_failed",
        message="Some of the values in the request are not valid.",
        errors=errors,
    )
    return error_response(request, detail)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = next(DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_STATUS)
    headers: dict[str, str] = {}
    if isinstance(exc, NotAuthenticated):
        if not wants_json(request) and request.method in ("GET", "HEAD"):
            # A person at a console page is sent to sign in, and brought back afterwards.
            return sign_in_redirect(request, exc)
        headers["www-authenticate"] = 'Bearer realm="opendpo"'
    if isinstance(exc, RateLimited):
        headers["retry-after"] = str(exc.retry_after)
    errors = (
        [FieldError(field=exc.field, message=exc.detail)] if isinstance(exc, InvalidValue) else []
    )
    detail = ErrorDetail(status=status, code=exc.code, message=exc.message, errors=errors)
    return error_response(request, detail, headers)


def sign_in_redirect(request: Request, exc: NotAuthenticated) -> Response:
    """Where a person who is not (fully) signed in goes: the step of sign-in they are at."""
    steps = {
        "password_change_required": "/console/account/password",
        "second_factor_required": "/console/login/code",
    }
    target = steps.get(exc.code)
    if target is None:
        target = "/console/login?" + urlencode({"next": request.url.path})
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    detail = ErrorDetail(status=exc.status, code=exc.code, message=exc.message)
    return error_response(request, detail)


async def _unhandled(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    logger.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"method": request.method, "path": request.url.path},
    )
    detail = ErrorDetail(status=500, code="internal_error", message=MESSAGES[500])
    return error_response(request, detail)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(Exception, _unhandled)


# Documented on every API route, so that the OpenAPI description shows the real error body.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "No such resource."},
    401: {"model": ErrorResponse, "description": "No valid API key or session."},
    403: {"model": ErrorResponse, "description": "The key or account lacks the permission."},
    422: {"model": ErrorResponse, "description": "A parameter is not valid."},
    503: {"model": ErrorResponse, "description": "No policy has been applied yet."},
}
