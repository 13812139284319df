"""Interactive API reference at /api/v1/docs, served from the vendored swagger-ui-dist."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import Response

from opendpo.security.roles import Permission
from opendpo.web.assets import SWAGGER_UI
from opendpo.web.auth import permit

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _docs_policy(html: str) -> str:
    """Swagger UI starts from an inline script: allow exactly that script by its hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    )


router = APIRouter(include_in_schema=False, dependencies=[permit(Permission.PUBLIC)])


@router.get(DOCS_URL)
def api_docs(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    static = f"{root}/static/"
    response = get_swagger_ui_html(
        openapi_url=f"{root}{OPENAPI_URL}",
        title="OpenDPO API",
        swagger_js_url=static + SWAGGER_UI.path("swagger-ui-bundle.js"),
        swagger_css_url=static + SWAGGER_UI.path("swagger-ui.css"),
        swagger_favicon_url=static + SWAGGER_UI.path("favicon-32x32.png"),
        # The validator badge would send the API description to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    response.headers["content-security-policy"] = _docs_policy(bytes(response.body).decode())
    return response
