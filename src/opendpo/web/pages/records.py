"""Records of processing (UK GDPR Art 30) in the console, and their downloads."""

from __future__ import annotations

import io

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from opendpo.errors import NotFound
from opendpo.policy.ropa.build import build_records
from opendpo.policy.ropa.formats import FORMATS
from opendpo.policy.ropa.html import render_ropa_html
from opendpo.security.roles import Permission
from opendpo.web.auth import PolicyReader, permit, record_audit
from opendpo.web.dependencies import PolicyDep, PolicyVersionDep, SessionDep, StateDep

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[permit(Permission.POLICY_READ)]
)


@router.get("/records", name="console_records")
def records_page(
    request: Request, state: StateDep, policy: PolicyDep, version: PolicyVersionDep
) -> Response:
    records = build_records(policy, policy_version=version.number)
    # The ropa renderer escapes everything it writes with its own autoescaping environment.
    ropa = Markup(render_ropa_html(records, standalone=False))
    return state.templates.TemplateResponse(
        request,
        "console/records.html",
        {"page": "records", "ropa": ropa, "formats": list(FORMATS.values())},
    )


@router.get("/ropa.{fmt}", name="console_ropa_download")
def records_download(
    fmt: str,
    policy: PolicyDep,
    version: PolicyVersionDep,
    auth: PolicyReader,
    state: StateDep,
    session: SessionDep,
) -> Response:
    if fmt not in FORMATS:
        raise NotFound("records of processing format", fmt)
    export_format = FORMATS[fmt]
    buffer = io.BytesIO()
    export_format.write(build_records(policy, policy_version=version.number), buffer)
    filename = f"records-of-processing-v{version.number}{export_format.suffix}"
    # Every export is audited, and committed before the file leaves.
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="ropa.exported",
        target_kind="policy_version",
        target_id=str(version.number),
        details={"format": fmt},
    )
    session.commit()
    return Response(
        buffer.getvalue(),
        media_type=export_format.media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
