"""Rights requests over the API: log one, list the queue, read one (audited), and work it.

Each action of rights.actions is a route of its own under `/requests/{request_id}/actions/`,
so that OpenAPI shows its body. Every change is audited in the same transaction as the change;
the letters the person is owed go out after the commit, so a letter never announces a
rolled-back change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.rights import queue
from opendpo.rights.actions import ACTIONS, Fields, perform
from opendpo.rights.handling import deliver, get_request
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.records import Request
from opendpo.rights.timeline import events
from opendpo.security.roles import ROLE_PERMISSIONS, Permission, Role
from opendpo.security.staff import StaffUser, get_user_by_id
from opendpo.web.api import request_dry_run, request_steps
from opendpo.web.api import request_shapes as shapes
from opendpo.web.auth import Auth, Permit, record_audit
from opendpo.web.dependencies import LettersDep, PolicyDep, SessionDep, StateDep
from opendpo.web.state import WebState

router = APIRouter(tags=["requests"])

TARGET = "request"
RequestsReader = Annotated[Auth, Depends(Permit(Permission.REQUESTS_READ))]
Writer = Annotated[Auth, Depends(Permit(Permission.REQUESTS_WRITE))]


@router.post(
    "/requests",
    response_model=shapes.RequestPublic,
    status_code=201,
    summary="Log a rights request (from a system, or taken by staff by phone, email or post)",
)
def request_create(
    body: shapes.RequestCreate,
    auth: Writer,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    context: LettersDep,
) -> shapes.RequestPublic:
    request, sent = submit_request(
        session=session,
        keyring=state.keyring,
        policy=policy,
        kind=body.kind.value,
        identities=[(item.kind.value, item.value) for item in body.identities],
        details=body.details,
        channel=body.channel,
        actor=auth.principal.actor,
        context=context,
        verified_evidence=body.verified_evidence,
        evidence=body.evidence,
        received_at=body.received_at,
    )
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.created",
        target_kind=TARGET,
        target_id=request.id,
        details={
            "reference": request.reference,
            "kind": request.kind,
            "channel": request.channel,
            "vouched": body.verified_evidence is not None,
        },
    )
    return _finish(session, state, auth, request, sent)


@router.get("/requests", response_model=shapes.RequestPage, summary="The request queue")
def request_list(
    auth: RequestsReader,
    session: SessionDep,
    status: Annotated[str | None, Query(description="A status, 'open' or 'closed'.")] = None,
    kind: str | None = None,
    overdue: Annotated[bool, Query(description="Open and past the due date.")] = False,
    assigned_to: Annotated[str | None, Query(description="A staff member's id.")] = None,
    received_from: Annotated[dt.date | None, Query(description="From this day (London).")] = None,
    received_to: Annotated[dt.date | None, Query(description="Up to this day included.")] = None,
    limit: Annotated[int, Query(ge=1, le=queue.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> shapes.RequestPage:
    chosen = queue.QueueFilter(
        status=status or "",
        kind=kind or "",
        assigned_to=assigned_to or "",
        overdue_only=overdue,
        received_from=received_from,
        received_to=received_to,
    )
    found = queue.list_requests(
        session=session, filters=chosen, today=queue.london_today(), limit=limit, offset=offset
    )
    items = [shapes.request_public(row.request) for row in found.rows]
    return shapes.RequestPage(items=items, total=found.total, limit=limit, offset=offset)


@router.get(
    "/requests/{request_id}",
    response_model=shapes.RequestDetail,
    summary="One request, with what the person wrote and their identities (audited)",
)
def request_read(
    auth: RequestsReader, state: StateDep, session: SessionDep, request_id: str
) -> shapes.RequestDetail:
    request = get_request(session=session, key=request_id)
    result = shapes.request_detail(request)
    _viewed(session, state, auth, request, "request")
    return result


@router.get(
    "/requests/{request_id}/events",
    response_model=list[shapes.EventPublic],
    summary="A request's timeline, oldest first (audited)",
)
def request_events(
    auth: RequestsReader, state: StateDep, session: SessionDep, request_id: str
) -> list[shapes.EventPublic]:
    request = get_request(session=session, key=request_id)
    result = [shapes.event_public(e) for e in events(session=session, request_id=request.id)]
    _viewed(session, state, auth, request, "timeline")
    return result


def _viewed(session: Session, state: WebState, auth: Auth, request: Request, part: str) -> None:
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.viewed",
        target_kind=TARGET,
        target_id=request.id,
        details={"reference": request.reference, "part": part},
    )
    session.commit()  # the read is on the log before the values go out


def _finish(
    session: Session, state: WebState, auth: Auth, request: Request, sent: list[Letter]
) -> shapes.RequestPublic:
    session.commit()
    deliver(
        session=session,
        mailer=state.mailer,
        request=request,
        sent=sent,
        actor=auth.principal.actor,
    )
    return shapes.request_public(request)


@dataclass(frozen=True)
class Desk:
    """What every action route works with."""

    auth: Auth
    state: WebState
    session: Session
    context: LetterContext


def _desk(auth: Writer, state: StateDep, session: SessionDep, context: LettersDep) -> Desk:
    return Desk(auth, state, session, context)


DeskDep = Annotated[Desk, Depends(_desk)]


def _act(
    desk: Desk, request_id: str, name: str, fields: Fields | None = None
) -> shapes.RequestPublic:
    action = ACTIONS[name]
    session, auth = desk.session, desk.auth
    request = get_request(session=session, key=request_id)
    sent, details = perform(
        session=session,
        request=request,
        action=action,
        actor=auth.principal.actor,
        context=desk.context,
        fields=fields or Fields(),
    )
    record_audit(
        session=session,
        state=desk.state,
        auth=auth,
        action=action.audit_action,
        target_kind=TARGET,
        target_id=request.id,
        details=details,
    )
    return _finish(session, desk.state, auth, request, sent)


def _path(name: str) -> str:
    return f"/requests/{{request_id}}/actions/{ACTIONS[name].api_path}"


# One route per action, so that OpenAPI documents each body; each only says which fields it gives.


@router.post(
    _path("verify"),
    response_model=shapes.RequestPublic,
    summary="Verify one identity with recorded evidence",
)
def action_verify(
    body: shapes.VerifyIdentity, desk: DeskDep, request_id: str
) -> shapes.RequestPublic:
    fields = Fields(identity_id=body.identity_id, evidence=body.evidence)
    return _act(desk, request_id, "verify", fields)


@router.post(_path("begin"), response_model=shapes.RequestPublic, summary="Start work")
def action_begin(desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    return _act(desk, request_id, "begin")


@router.post(
    _path("await"),
    response_model=shapes.RequestPublic,
    summary="Wait on a step (a supplier, another team); the clock keeps running",
)
def action_await(body: shapes.AwaitAction, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    fields = Fields(waiting_for=body.waiting_for)
    return _act(desk, request_id, "await", fields)


@router.post(
    _path("extend"),
    response_model=shapes.RequestPublic,
    summary="Extend by one or two months (within the first month), telling the person why",
)
def action_extend(body: shapes.Extend, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    fields = Fields(months=body.months, reason=body.reason)
    return _act(desk, request_id, "extend", fields)


@router.post(
    _path("pause"),
    response_model=shapes.RequestPublic,
    summary="Stop the clock and ask the person for a clarification",
)
def action_pause(body: shapes.Pause, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    fields = Fields(question=body.question)
    return _act(desk, request_id, "pause", fields)


@router.post(
    _path("resume"),
    response_model=shapes.RequestPublic,
    summary="The person replied: start the clock again",
)
def action_resume(body: shapes.Resume, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    return _act(desk, request_id, "resume", Fields(note=body.note))


@router.post(
    _path("refuse"),
    response_model=shapes.RequestPublic,
    summary="Refuse, with the Art 12(5) or exemption reason (the letter names the ICO)",
)
def action_refuse(body: shapes.Refuse, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    fields = Fields(reason=body.reason.value, explanation=body.explanation)
    return _act(desk, request_id, "refuse", fields)


@router.post(
    _path("complete"),
    response_model=shapes.RequestPublic,
    summary="Complete, sending the response letter",
)
def action_complete(body: shapes.Complete, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    fields = Fields(response=body.response)
    return _act(desk, request_id, "complete", fields)


@router.post(_path("cancel"), response_model=shapes.RequestPublic, summary="Cancel")
def action_cancel(body: shapes.Cancel, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    return _act(desk, request_id, "cancel", Fields(reason=body.reason))


@router.post(
    _path("assign"),
    response_model=shapes.RequestPublic,
    summary="Assign to a staff member who works requests, or unassign",
)
def action_assign(body: shapes.Assign, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    fields = Fields(staff=_assignee(desk.session, body.staff_id))
    return _act(desk, request_id, "assign", fields)


def _assignee(session: Session, staff_id: str | None) -> StaffUser | None:
    if staff_id is None:
        return None
    staff = get_user_by_id(session=session, user_id=staff_id)
    if staff is None or staff.disabled_at is not None:
        raise InvalidValue("staff_id", "no active staff member has this id")
    if Permission.REQUESTS_WRITE not in ROLE_PERMISSIONS[Role(staff.role)]:
        raise InvalidValue("staff_id", "this staff member's role does not work requests")
    return staff


@router.post(_path("note"), response_model=shapes.RequestPublic, summary="Add a note for staff")
def action_note(body: shapes.Note, desk: DeskDep, request_id: str) -> shapes.RequestPublic:
    return _act(desk, request_id, "note", Fields(note=body.note))


# Running the request across the connected systems: run, steps, answers; an erasure's dry run.
router.include_router(request_steps.router)
router.include_router(request_dry_run.router)
