"""The OpenDSR processor endpoints: discovery, create, status and cancel, all signed.

A controller's tooling sends requests it has already verified. Everything under /opendsr
answers in the spec's words: every response carries `X-OpenDSR-Signature` (the processor's
ECDSA signature of the raw body, certificate linked from discovery), and every error the
spec's body, `{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}`,
not the rest of the API's. OpenDsrRoute does both for every route here.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from opendpo.errors import DomainError, InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import opendsr
from opendpo.rights.kinds import POLICY_RIGHT
from opendpo.rights.letters import LetterContext
from opendpo.rights.signing import signer_for
from opendpo.security.roles import Permission
from opendpo.web.auth import Auth, Permit, PublicAuth, record_audit
from opendpo.web.background import deliver_callbacks
from opendpo.web.dependencies import LettersDep, PolicyDep, StateDep
from opendpo.web.errors import DOMAIN_STATUS
from opendpo.web.state import WebState, web_state

PREFIX = "/opendsr/v1"
CERTIFICATE_PATH = "/processor_certificate.pem"
MAX_TEXT = 400


class SpecErrorDetail(BaseModel):
    domain: str
    reason: str
    message: str
    location: str | None = None


class SpecError(BaseModel):
    code: int
    message: str
    errors: list[SpecErrorDetail] = []


class SpecErrorResponse(BaseModel):
    error: SpecError


def spec_error(status: int, detail: SpecErrorDetail, message: str | None = None) -> JSONResponse:
    body = SpecErrorResponse(
        error=SpecError(code=status, message=message or detail.message, errors=[detail])
    )
    headers = {"cache-control": "no-store"}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="opendpo"'
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _field_name(location: tuple[Any, ...]) -> str:
    """("body", "subject_identities", 0, "identity_value"): subject_identities[0].identity_value"""
    name = ""
    for part in location[1:]:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "is not valid", "type": "invalid"}
    location = _field_name(tuple(first["loc"]))
    message = str(first["msg"])
    if first["type"] == "json_invalid":
        location, message = "body", "is not valid JSON"
    detail = SpecErrorDetail(
        domain="Validation",
        reason=str(first["type"]),
        message=f"{location}: {message}",
        location=location,
    )
    return spec_error(400, detail)


def _domain_response(exc: DomainError) -> JSONResponse:
    status = next(DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_STATUS)
    if status in (409, 422):  # the spec answers every bad request with 400
        status = 400
    if isinstance(exc, InvalidValue):
        reason = exc.reason if isinstance(exc, opendsr.OpenDsrRejected) else exc.code
        detail = SpecErrorDetail(
            domain="Validation", reason=reason, message=exc.message, location=exc.field
        )
        return spec_error(status, detail)
    domains = {401: "Authentication", 403: "Authorization", 404: "Request"}
    detail = SpecErrorDetail(
        domain=domains.get(status, "Processor"), reason=exc.code, message=exc.message
    )
    return spec_error(status, detail)


def _http_response(exc: HTTPException) -> JSONResponse:
    detail = SpecErrorDetail(domain="Request", reason=str(exc.status_code), message=str(exc.detail))
    return spec_error(exc.status_code, detail)


class OpenDsrRoute(APIRoute):
    """Answers errors in the spec's body and signs whatever goes out."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def signed(request: Request) -> Response:
            try:
                response = await handler(request)
            except RequestValidationError as exc:
                response = _validation_response(exc)
            except DomainError as exc:
                response = _domain_response(exc)
            except HTTPException as exc:
                response = _http_response(exc)
            state = web_state(request)
            signer = signer_for(state.keyring, state.settings.base_url)
            response.headers.update(signer.headers(bytes(response.body)))
            return response

        return signed


router = APIRouter(
    prefix=PREFIX,
    tags=["opendsr"],
    route_class=OpenDsrRoute,
    # "4XX", not 400: every client error here (400, 401, 403, 404) has the spec's body, and
    # FastAPI then adds no 422 that these routes never send (validation answers 400).
    responses={
        "4XX": {"model": SpecErrorResponse, "description": "The OpenDSR spec's error body."}
    },
)

RequestsReader = Annotated[Auth, Depends(Permit(Permission.REQUESTS_READ))]
RequestsWriter = Annotated[Auth, Depends(Permit(Permission.REQUESTS_WRITE))]


class IdentityIn(BaseModel):
    identity_type: Annotated[str, Field(max_length=40)]
    identity_value: Annotated[str, Field(max_length=MAX_TEXT)]
    identity_format: Annotated[str, Field(max_length=20)]


class OpenDsrRequestIn(BaseModel):
    """A request as the spec defines it; fields of later versions are ignored, not refused."""

    model_config = ConfigDict(extra="ignore")

    subject_request_id: Annotated[str, Field(max_length=36)]
    subject_request_type: Annotated[str, Field(max_length=40)]
    submitted_time: Annotated[str, Field(max_length=40)]
    subject_identities: Annotated[list[IdentityIn], Field(max_length=opendsr.MAX_IDENTITIES)]
    regulation: Annotated[str, Field(max_length=20)]
    status_callback_urls: Annotated[
        list[Annotated[str, Field(max_length=opendsr.MAX_URL)]],
        Field(max_length=opendsr.MAX_CALLBACK_URLS),
    ] = []
    api_version: Annotated[str | None, Field(max_length=20)] = None
    extensions: dict[str, Any] | None = None


class SupportedIdentity(BaseModel):
    identity_type: str
    identity_format: str


class DiscoveryPublic(BaseModel):
    api_version: str
    supported_identities: list[SupportedIdentity]
    supported_subject_request_types: list[str]
    processor_certificate: str


class CreatedPublic(BaseModel):
    controller_id: str | None
    expected_completion_time: str
    received_time: str
    encoded_request: str
    subject_request_id: str


class StatusPublic(BaseModel):
    controller_id: str | None
    expected_completion_time: str
    subject_request_id: str
    request_status: str
    api_version: str


class CancelledPublic(BaseModel):
    controller_id: str | None
    subject_request_id: str
    received_time: str
    api_version: str


@router.get("/discovery", response_model=DiscoveryPublic, summary="What this processor supports")
async def discovery(_auth: PublicAuth, state: StateDep, policy: PolicyDep) -> DiscoveryPublic:
    """Request types are those the privacy notice in force offers; identities must be raw."""
    offered = {right.key for right in policy.rights.available}
    return DiscoveryPublic(
        api_version=opendsr.API_VERSION,
        supported_identities=[
            SupportedIdentity(identity_type=kind, identity_format="raw")
            for kind in opendsr.IDENTITY_TYPES
        ],
        supported_subject_request_types=[
            name
            for name, kind in opendsr.SUBJECT_REQUEST_TYPES.items()
            if POLICY_RIGHT[kind] in offered
        ],
        processor_certificate=state.settings.base_url.rstrip("/") + PREFIX + CERTIFICATE_PATH,
    )


@router.get(
    CERTIFICATE_PATH,
    response_class=Response,
    summary="The processor's signing certificate (PEM)",
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
async def certificate(_auth: PublicAuth, state: StateDep) -> Response:
    """Verifies `X-OpenDSR-Signature` on every response and callback from this processor."""
    signer = signer_for(state.keyring, state.settings.base_url)
    return Response(signer.certificate_pem, media_type="application/x-pem-file")


@router.post(
    "/opendsr_requests",
    response_model=CreatedPublic,
    status_code=201,
    summary="Send a verified data subject request",
)
async def create_request(
    body: OpenDsrRequestIn,
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    policy: PolicyDep,
    letters: LettersDep,
    background: BackgroundTasks,
) -> CreatedPublic:
    """The controller has verified the person; the request's clock starts on receipt."""
    raw = await request.body()
    now = dt.datetime.now(dt.UTC)
    submission = opendsr.parse(
        subject_request_id=body.subject_request_id,
        subject_request_type=body.subject_request_type,
        submitted_time=body.submitted_time,
        subject_identities=[
            (i.identity_type, i.identity_value, i.identity_format) for i in body.subject_identities
        ],
        regulation=body.regulation,
        status_callback_urls=body.status_callback_urls,
        api_version=body.api_version,
        extensions=body.extensions,
        allow_http_callbacks=state.settings.opendsr_allow_http_callbacks,
        now=now,
    )
    created = await run_in_threadpool(
        _create, state, auth, policy, letters, submission, base64.b64encode(raw).decode(), now
    )
    background.add_task(deliver_callbacks, state, request_id=created[1])
    return created[0]


def _create(
    state: WebState,
    auth: Auth,
    policy: PolicyDocument,
    letters: LetterContext,
    submission: opendsr.Submission,
    encoded: str,
    now: dt.datetime,
) -> tuple[CreatedPublic, str]:
    with state.session_factory() as session:
        try:
            with session.begin():
                # The controller talks to the person: the acknowledgement is its to send.
                created, _letters = opendsr.create(
                    session=session,
                    keyring=state.keyring,
                    policy=policy,
                    submission=submission,
                    actor=auth.principal.actor,
                    controller_name=auth.principal.name,
                    context=letters,
                    now=now,
                )
                record_audit(
                    session=session,
                    state=state,
                    auth=auth,
                    action="opendsr.request.create",
                    target_kind="rights_request",
                    target_id=created.id,
                    details={"subject_request_id": submission.subject_request_id},
                )
        except IntegrityError:
            # The same id sent twice at once: the unique index let one of them in.
            raise opendsr.duplicate() from None
        body = opendsr.created_body(created, encoded_request=encoded, now=now)
        return CreatedPublic.model_validate(body), created.id


@router.get(
    "/opendsr_requests/{subject_request_id}",
    response_model=StatusPublic,
    summary="The status of a request",
)
def request_status(subject_request_id: str, auth: RequestsReader, state: StateDep) -> StatusPublic:
    with state.session_factory() as session:
        found = opendsr.find(
            session=session, subject_request_id=subject_request_id, controller_id=auth.principal.id
        )
        return StatusPublic.model_validate(opendsr.status_body(found))


@router.delete(
    "/opendsr_requests/{subject_request_id}",
    response_model=CancelledPublic,
    status_code=202,
    summary="Cancel a request while it is pending",
)
def cancel_request(
    subject_request_id: str, auth: RequestsWriter, state: StateDep, background: BackgroundTasks
) -> CancelledPublic:
    now = dt.datetime.now(dt.UTC)
    with state.session_factory() as session, session.begin():
        found = opendsr.find(
            session=session, subject_request_id=subject_request_id, controller_id=auth.principal.id
        )
        opendsr.cancel(session=session, request=found, actor=auth.principal.actor, now=now)
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="opendsr.request.cancel",
            target_kind="rights_request",
            target_id=found.id,
            details={"subject_request_id": subject_request_id},
        )
        body = opendsr.cancelled_body(found, now=now)
        request_id = found.id
    background.add_task(deliver_callbacks, state, request_id=request_id)
    return CancelledPublic.model_validate(body)
