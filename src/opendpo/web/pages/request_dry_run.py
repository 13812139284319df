"""An erasure's dry run from its console page: what it would change, nothing changed.

The same dry run as `opendpo requests dry-run` and the API's (execution.dry_run): every
connected system is read, no step is written, and the request stays ready to run. The page
shows, per system and collection, why the rows go or stay and the first rows' changes, old
values masked; the whole listing is a JSON download, which runs the dry run again (it is
never stored). Each is noted on the request's timeline and in the audit log, and committed
before anything is shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import Response, StreamingResponse

from opendpo.errors import DomainError
from opendpo.execution.dry_run import DryRun, dry_run, json_pieces, record_dry_run
from opendpo.rights.handling import get_request
from opendpo.rights.records import Request as RightsRequest
from opendpo.web.auth import Auth, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages.request_execution import check_version, refused
from opendpo.web.pages.request_page import REQUEST_TARGET
from opendpo.web.pages.request_queue import RequestsWriter
from opendpo.web.state import WebState

router = APIRouter(prefix="/console", include_in_schema=False)

# Rows shown per collection; the JSON download lists them all.
SHOWN_ROWS = 50


class DryRunForm(BaseModel):
    version: str = ""


@router.post("/requests/{request_id}/dry-run", name="console_request_dry_run")
def request_dry_run(
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
    form: Annotated[DryRunForm, Form()],
) -> Response:
    found = get_request(session=session, key=request_id)
    preview = _previewed(state, session, auth, found, form)
    if not isinstance(preview, DryRun):
        return refused(request, state, session, auth, found, preview, "preview", {})
    with preview:
        context = {
            "page": "requests",
            "req": found,
            "preview": preview,
            "totals": preview.totals(),
            "shown_rows": SHOWN_ROWS,
        }
        return state.templates.TemplateResponse(request, "console/request_dry_run.html", context)


@router.post("/requests/{request_id}/dry-run.json", name="console_request_dry_run_json")
def request_dry_run_json(
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
    form: Annotated[DryRunForm, Form()],
) -> Response:
    found = get_request(session=session, key=request_id)
    preview = _previewed(state, session, auth, found, form)
    if not isinstance(preview, DryRun):
        return refused(request, state, session, auth, found, preview, "preview", {})
    name = f"{found.reference}-dry-run.json"
    return StreamingResponse(
        _listed(preview),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _previewed(
    state: WebState, session: Session, auth: Auth, found: RightsRequest, form: DryRunForm
) -> DryRun | DomainError:
    """The dry run, noted and committed; or why it could not be made."""
    try:
        check_version(found, form.version)
        preview = dry_run(runtime=state.runner.runtime, session=session, request=found)
    except DomainError as exc:
        return exc
    try:
        record_dry_run(
            session=session,
            request=found,
            preview=preview,
            actor=auth.principal.actor,
            now=dt.datetime.now(dt.UTC),
        )
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="request.dry_run",
            target_kind=REQUEST_TARGET,
            target_id=found.id,
            details=preview.totals(),
        )
        session.commit()
    except BaseException:
        preview.close()
        raise
    return preview


def _listed(preview: DryRun) -> Iterator[bytes]:
    with preview:
        for piece in json_pieces(preview):
            yield piece.encode("utf-8")
