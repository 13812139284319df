"""One request in the console: what was asked, who asked, where it stands, its timeline, and
the forms that work it (opendpo.web.pages.request_actions).

The page shows what the person wrote and their identities: each view is written to the audit
log and committed before the page is rendered, as on the person page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.rights import calendar
from opendpo.rights.handling import get_request
from opendpo.rights.kinds import (
    CLOSED,
    REFUSAL_LABELS,
    TRANSITIONS,
    RefusalReason,
    RequestKind,
    RequestStatus,
)
from opendpo.rights.records import Request as RightsRequest
from opendpo.rights.timeline import events
from opendpo.security.audit import ActorKind
from opendpo.security.roles import ROLE_PERMISSIONS, Permission, Role
from opendpo.security.staff import StaffUser
from opendpo.web.auth import Auth, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages.request_queue import (
    RequestsReader,
    names_context,
    staff_names,
    today,
)
from opendpo.web.pages.request_systems import systems_context
from opendpo.web.state import WebState

router = APIRouter(prefix="/console", include_in_schema=False)

REQUEST_TARGET = "request"

# A first draft of the response per kind, for staff to finish: never sent as it stands,
# since completing needs the text in the form.
RESPONSE_DRAFTS: dict[RequestKind, str] = {
    RequestKind.ACCESS: (
        "We have searched our systems for personal data about you. A copy of it is attached "
        "/ set out below, with the purposes we use it for, who we share it with, how long we "
        "keep it and where it came from.\n\n[The data and the supplementary information]"
    ),
    RequestKind.INFORMED: (
        "We hold the following personal data about you, for these purposes and on these "
        "lawful bases:\n\n[Categories, purposes, lawful bases, recipients, retention]"
    ),
    RequestKind.RECTIFICATION: (
        "We have corrected your personal data as you asked:\n\n[What was changed, and where]"
        "\n\nWe have told those we shared the data with of the correction."
    ),
    RequestKind.ERASURE: (
        "We have deleted your personal data from our systems:\n\n[The systems]\n\n"
        "[Any data we must keep, why, and for how long]"
    ),
    RequestKind.RESTRICTION: (
        "We have restricted the use of your personal data: we keep it but use it for nothing "
        "else until [the end of the restriction]. We will tell you before lifting it."
    ),
    RequestKind.RESTRICTION_LIFT: "We have lifted the restriction on your personal data.",
    RequestKind.PORTABILITY: (
        "Your personal data is attached in a structured, commonly used, machine-readable "
        "format (JSON / CSV).\n\n[Or: we have sent it directly to the organisation you named.]"
    ),
    RequestKind.OBJECTION: (
        "We have considered your objection.\n\n[We have stopped using your data for this / "
        "our compelling legitimate grounds, which override your interests, are: ...]"
    ),
    RequestKind.HUMAN_REVIEW: (
        "A member of our staff has reviewed the automated decision.\n\n[Their conclusion "
        "and the reasons for it]"
    ),
    RequestKind.CONSENT_WITHDRAWAL: (
        "We have recorded the withdrawal of your consent and stopped the processing that "
        "relied on it."
    ),
    RequestKind.COMPLAINT: (
        "Thank you for your complaint. We have looked into it:\n\n[What we found and what "
        "we have done]"
    ),
}
ACTOR_NAMES = {
    ActorKind.SUBJECT.value: "The person",
    ActorKind.API_KEY.value: "An API key",
    ActorKind.SYSTEM.value: "OpenDPO",
    ActorKind.CLI.value: "An operator (command line)",
    ActorKind.ANONYMOUS.value: "Someone not signed in",
}
EVENT_NAMES = {
    "received": "Received",
    "status": "Status changed",
    "extended": "Deadline extended",
    "paused": "Clock stopped for a clarification",
    "resumed": "Clock restarted",
    "assigned": "Assigned",
    "note": "Note",
    "letter_not_sent": "A letter could not be sent",
}


@dataclass(frozen=True)
class TimelineLine:
    at: dt.datetime
    who: str
    what: str
    change: str | None
    message: str | None
    facts: dict[str, Any]
    public: bool


def _timeline(session: Session, request_id: str) -> list[TimelineLine]:
    found = events(session=session, request_id=request_id)
    staff = staff_names(session, (e.actor_id for e in found if e.actor_kind == ActorKind.STAFF))
    lines = []
    for event in found:
        if event.actor_kind == ActorKind.STAFF.value:
            who = staff.get(event.actor_id or "", "A staff member (account removed)")
        else:
            who = ACTOR_NAMES.get(event.actor_kind, event.actor_kind)
        change = None
        if event.to_status:
            before = event.from_status.replace("_", " ") if event.from_status else None
            after = event.to_status.replace("_", " ")
            change = f"{before} → {after}" if before else after
        lines.append(
            TimelineLine(
                at=event.at,
                who=who,
                what=EVENT_NAMES.get(event.kind, event.kind.replace("_", " ")),
                change=change,
                message=event.message,
                facts=event.data,
                public=event.public,
            )
        )
    return lines


def assignable_staff(session: Session) -> list[StaffUser]:
    """Active staff whose role may work requests."""
    roles = [r.value for r in Role if Permission.REQUESTS_WRITE in ROLE_PERMISSIONS[r]]
    query = (
        select(StaffUser)
        .where(StaffUser.role.in_(roles), StaffUser.disabled_at.is_(None))
        .order_by(StaffUser.username)
    )
    return list(session.scalars(query))


def can_extend(request: RightsRequest, day: dt.date) -> bool:
    """Whether an extension may still be given (rights.clock.extend says why not)."""
    return (
        RequestStatus(request.status) not in CLOSED
        and request.original_due_on is not None
        and calendar.rule_for(request.kind) is calendar.DeadlineRule.ONE_MONTH
        and request.extended_months < calendar.MAX_EXTENSION_MONTHS
        and day <= request.original_due_on
    )


def render_request(
    request: Request,
    *,
    state: WebState,
    session: Session,
    auth: Auth,
    rights_request: RightsRequest,
    status_code: int = 200,
    message: str | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The request page, with `message` and per-action field `errors` after a refused step.

    The view is audited first and committed: if the entry cannot be written, nothing shows.
    """
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.viewed",
        target_kind=REQUEST_TARGET,
        target_id=rights_request.id,
    )
    session.commit()
    day = today()
    status = RequestStatus(rights_request.status)
    duplicate = (
        session.get(RightsRequest, rights_request.duplicate_of)
        if rights_request.duplicate_of
        else None
    )
    people = staff_names(session, [rights_request.assigned_to])
    open_pause = next((p for p in rights_request.pauses if p.ended_on is None), None)
    kind = RequestKind(rights_request.kind)
    may_act = auth.principal.can(Permission.REQUESTS_WRITE)
    context: dict[str, Any] = {
        "page": "requests",
        "req": rights_request,
        "status": status,
        "is_open": status not in CLOSED,
        "next_statuses": {s.value for s in TRANSITIONS[status]},
        "days_left": (
            calendar.working_days_between(day, rights_request.due_on)
            if rights_request.due_on and status not in CLOSED
            else None
        ),
        "assignee": people.get(rights_request.assigned_to or ""),
        "duplicate": duplicate,
        "open_pause": open_pause,
        "extendable": can_extend(rights_request, day),
        "timeline": _timeline(session, rights_request.id),
        "staff": assignable_staff(session),
        "me": auth.principal.id,
        "may_act": may_act,
        "refusal_reasons": REFUSAL_LABELS,
        "refusal_label": (
            REFUSAL_LABELS.get(RefusalReason(rights_request.refusal_reason))
            if rights_request.refusal_reason
            else None
        ),
        "draft": RESPONSE_DRAFTS.get(kind, ""),
        "message": message,
        "errors": errors or {},
        "values": values or {},
        **names_context(),
        **systems_context(session, rights_request, may_act=may_act),
    }
    return state.templates.TemplateResponse(
        request, "console/request.html", context, status_code=status_code
    )


@router.get("/requests/{request_id}", name="console_request")
def request_page(
    request: Request, auth: RequestsReader, state: StateDep, session: SessionDep, request_id: str
) -> Response:
    found = get_request(session=session, key=request_id)
    return render_request(request, state=state, session=session, auth=auth, rights_request=found)
