"""The audit log in the console: search, page back through it, download it as CSV.

Reading the log is not itself audited: entries hold ids and action names, never personal data
values, and logging every read of the log would grow it with nothing but its own reading.
Exporting is audited, because a copy of the log leaves the system with the download.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from opendpo.errors import InvalidValue
from opendpo.security import audit
from opendpo.security.audit import AuditEntry, AuditQuery, as_utc
from opendpo.web.api.audit import audit_query, search_page
from opendpo.web.auth import AuditReader, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.state import WebState

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 50
EXPORT_BATCH = 500
CSV_HEADER = (
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "client_address",
    "action",
    "target_kind",
    "target_id",
    "details",
    "hash",
)
# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Query string names of the filters, shared by the form, the "older" link and the download.
FilterArg = Annotated[str | None, Query()]
FromArg = Annotated[str | None, Query(alias="from")]
ToArg = Annotated[str | None, Query(alias="to")]


def _filters(**values: str | None) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(entry: AuditEntry) -> list[str]:
    return [
        _cell(value)
        for value in (
            entry.seq,
            as_utc(entry.at).isoformat(),
            entry.actor_kind,
            entry.actor_id,
            entry.client_address,
            entry.action,
            entry.target_kind,
            entry.target_id,
            json.dumps(entry.details, sort_keys=True),
            entry.hash,
        )
    ]


def csv_lines(*, state: WebState, query: AuditQuery, before_seq: int | None) -> Iterator[str]:
    """The matching entries as CSV text, newest first, read in batches on a session of its own.

    The request's session may be closed before the response body is sent, and batches keep
    memory flat however long the log is.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield take()
    with state.session_factory() as session:
        while True:
            batch = audit.search(
                session=session, query=query, limit=EXPORT_BATCH, before_seq=before_seq
            )
            if not batch:
                return
            for entry in batch:
                writer.writerow(_row(entry))
            yield take()
            before_seq = batch[-1].seq
            session.expunge_all()


@router.get("/audit", name="console_audit")
def audit_page(
    request: Request,
    auth: AuditReader,
    state: StateDep,
    session: SessionDep,
    actor_id: FilterArg = None,
    action: FilterArg = None,
    target_kind: FilterArg = None,
    target_id: FilterArg = None,
    date_from: FromArg = None,
    date_to: ToArg = None,
    before_seq: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    filters = _filters(
        actor_id=actor_id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        **{"from": date_from, "to": date_to},
    )
    context: dict[str, Any] = {"page": "audit", "filters": filters, "errors": {}}
    try:
        query = audit_query(
            actor_id=actor_id,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            date_from=date_from,
            date_to=date_to,
        )
    except InvalidValue as exc:
        context.update(errors={exc.field: exc.detail}, entries=[], older=None, download=None)
        return state.templates.TemplateResponse(
            request, "console/audit.html", context, status_code=422
        )
    entries, next_before = search_page(
        session=session, query=query, limit=PAGE_SIZE, before_seq=before_seq
    )
    older = None
    if next_before is not None:
        older = "/console/audit?" + urlencode({**filters, "before_seq": next_before})
    download = "/console/audit.csv" + ("?" + urlencode(filters) if filters else "")
    context.update(entries=entries, older=older, download=download)
    return state.templates.TemplateResponse(request, "console/audit.html", context)


@router.get("/audit.csv", name="console_audit_download")
def audit_download(
    auth: AuditReader,
    state: StateDep,
    session: SessionDep,
    actor_id: FilterArg = None,
    action: FilterArg = None,
    target_kind: FilterArg = None,
    target_id: FilterArg = None,
    date_from: FromArg = None,
    date_to: ToArg = None,
) -> Response:
    query = audit_query(
        actor_id=actor_id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        date_from=date_from,
        date_to=date_to,
    )
    filters = _filters(
        actor_id=actor_id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        **{"from": date_from, "to": date_to},
    )
    # Committed before a byte is sent: no copy of the log leaves without a trace of it.
    entry = record_audit(
        session=session,
        state=state,
        auth=auth,
        action="audit.exported",
        details={"format": "csv", "filters": filters},
    )
    session.commit()
    # The export stops at its own entry, so rows appended while it streams do not shift it.
    lines = csv_lines(state=state, query=query, before_seq=entry.seq)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit-log.csv"'},
    )
