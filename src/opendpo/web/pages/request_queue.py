"""The staff queue of rights requests: what is open, what is due, what is late.

The listing holds references, kinds, statuses, dates and staff names, never what a person
wrote or who they are, so it is not audited per view; opening a request is
(opendpo.web.pages.request_page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.errors import InvalidValue
from opendpo.rights import queue
from opendpo.rights.kinds import LABELS, RequestKind, RequestStatus
from opendpo.security.roles import Permission
from opendpo.security.staff import StaffUser
from opendpo.web.auth import Auth, Permit
from opendpo.web.dependencies import SessionDep, StateDep

router = APIRouter(prefix="/console", include_in_schema=False)

RequestsReader = Annotated[Auth, Depends(Permit(Permission.REQUESTS_READ))]
RequestsWriter = Annotated[Auth, Depends(Permit(Permission.REQUESTS_WRITE))]

# Staff shorthand for each kind: the queue is a table, the people's labels are sentences.
KIND_NAMES: dict[RequestKind, str] = {
    RequestKind.INFORMED: "Right to be informed",
    RequestKind.ACCESS: "Access",
    RequestKind.RECTIFICATION: "Rectification",
    RequestKind.ERASURE: "Erasure",
    RequestKind.RESTRICTION: "Restriction",
    RequestKind.RESTRICTION_LIFT: "Lift restriction",
    RequestKind.PORTABILITY: "Portability",
    RequestKind.OBJECTION: "Objection",
    RequestKind.HUMAN_REVIEW: "Human review",
    RequestKind.CONSENT_WITHDRAWAL: "Consent withdrawal",
    RequestKind.COMPLAINT: "Complaint",
}
STATUS_NAMES: dict[str, str] = {
    queue.OPEN_STATUS: "Open (any)",
    queue.CLOSED_STATUS: "Closed (any)",
    **{s.value: s.value.replace("_", " ").capitalize() for s in RequestStatus},
}
QUERY_NAMES = ("status", "kind", "assigned", "overdue", "q")


def today() -> dt.date:
    """Today in London: the deadline calendar's days are London days."""
    return queue.london_today()


def staff_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(wanted)))
    return dict(rows.all())


def names_context() -> dict[str, Any]:
    """What every request template uses to name kinds and statuses."""
    return {
        "kind_names": {k.value: name for k, name in KIND_NAMES.items()},
        "kind_labels": {k.value: label for k, label in LABELS.items()},
        "status_names": STATUS_NAMES,
    }


@router.get("/requests", name="console_requests")
def request_queue(
    request: Request,
    auth: RequestsReader,
    state: StateDep,
    session: SessionDep,
    status: str = queue.OPEN_STATUS,
    kind: str = "",
    assigned: str = "",
    overdue: str = "",
    q: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    values = {"status": status, "kind": kind, "assigned": assigned, "overdue": overdue, "q": q}
    errors: dict[str, str] = {}
    try:
        filters = queue.parse_filter(
            status=status,
            kind=kind,
            assigned=assigned,
            overdue=overdue,
            reference=q,
            staff_id=auth.principal.id,
        )
    except InvalidValue as exc:
        errors[exc.field] = exc.detail
        filters = queue.QueueFilter()
    day = today()
    found = queue.list_page(session=session, filters=filters, today=day, page=page)
    kept = {name: value for name, value in values.items() if value}

    def page_link(number: int) -> str:
        return "/console/requests?" + urlencode({**kept, "page": number})

    context = {
        "page": "requests",
        "values": values,
        "errors": errors,
        "found": found,
        "today": day,
        "assignees": staff_names(session, (row.assigned_to for row in found.rows)),
        "overdue_total": queue.overdue_count(session=session, today=day),
        "previous_page": page_link(found.page - 1) if found.page > 1 else None,
        "next_page": page_link(found.page + 1) if found.page < found.pages else None,
        "due_soon_days": queue.DUE_SOON_WORKING_DAYS,
        **names_context(),
    }
    return state.templates.TemplateResponse(
        request, "console/requests.html", context, status_code=422 if errors else 200
    )
