"""Rights requests over the API: log one, list the queue, read one (audited), and work it.

Each action is a route of its own under `/requests/{request_id}/actions/`, so that OpenAPI
shows its body. Every change is audited in the same transaction as the change; the letters
the person is owed go out after the commit, so a letter never announces a rolled-back change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.rights import queue, verification, workflow
from opendpo.rights.handling import deliver, get_request
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import Letter
from opendpo.rights.records import Request
from opendpo.rights.timeline import events
from opendpo.security.roles import ROLE_PERMISSIONS, Permission, Role
from opendpo.security.staff import get_user_by_id
from opendpo.web.api import request_shapes as shapes
from opendpo.web.auth import Auth, Permit, record_audit
from opendpo.web.dependencies import LettersDep, PolicyDep, SessionDep, StateDep
from opendpo.web.state import WebState

router = APIRouter(tags=["requests"])

TARGET = "request"
RequestsReader = Annotated[Auth, Depends(Permit(Permission.REQUESTS_READ))]
RequestsWriter = Annotated[Auth, Depends(Permit(Permission.REQUESTS_WRITE))]


@router.post(
    "/requests",
    response_model=shapes.RequestPublic,
    status_code=201,
    summary="Log a rights request (from a system, or taken by staff by phone, email or post)",
)
def request_create(
    body: shapes.RequestCreate,
    auth: RequestsWriter,
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


Step = Callable[[Request], list[Letter] | None]


def _act(
    session: Session,
    state: WebState,
    auth: Auth,
    request_id: str,
    action: str,
    step: Step,
    details: Mapping[str, object] | None = None,
) -> shapes.RequestPublic:
    request = get_request(session=session, key=request_id)
    sent = step(request) or []
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action=f"request.{action}",
        target_kind=TARGET,
        target_id=request.id,
        details={"reference": request.reference, **(details or {})},
    )
    return _finish(session, state, auth, request, sent)


ACTIONS = "/requests/{request_id}/actions"


@router.post(
    f"{ACTIONS}/verify-identity",
    response_model=shapes.RequestPublic,
    summary="Verify one identity with recorded evidence",
)
def action_verify(
    body: shapes.VerifyIdentity,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    context: LettersDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return verification.verify_by_staff(
            session=session,
            request=request,
            identity_id=body.identity_id,
            actor=auth.principal.actor,
            evidence=body.evidence,
            context=context,
        )

    detail = {"identity": body.identity_id}
    return _act(session, state, auth, request_id, "identity_verified", step, detail)


@router.post(f"{ACTIONS}/begin", response_model=shapes.RequestPublic, summary="Start work")
def action_begin(
    auth: RequestsWriter, state: StateDep, session: SessionDep, request_id: str
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.begin(session=session, request=request, actor=auth.principal.actor)

    return _act(session, state, auth, request_id, "begun", step)


@router.post(
    f"{ACTIONS}/await",
    response_model=shapes.RequestPublic,
    summary="Wait on a step (a supplier, another team); the clock keeps running",
)
def action_await(
    body: shapes.AwaitAction,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.await_action(
            session=session,
            request=request,
            actor=auth.principal.actor,
            waiting_for=body.waiting_for,
        )

    return _act(session, state, auth, request_id, "awaiting_action", step)


@router.post(
    f"{ACTIONS}/extend",
    response_model=shapes.RequestPublic,
    summary="Extend by one or two months (within the first month), telling the person why",
)
def action_extend(
    body: shapes.Extend,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    context: LettersDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.extend(
            session=session,
            request=request,
            actor=auth.principal.actor,
            months=body.months,
            reason=body.reason,
            context=context,
        )

    return _act(session, state, auth, request_id, "extended", step, {"months": body.months})


@router.post(
    f"{ACTIONS}/pause",
    response_model=shapes.RequestPublic,
    summary="Stop the clock and ask the person for a clarification",
)
def action_pause(
    body: shapes.Pause,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    context: LettersDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.pause(
            session=session,
            request=request,
            actor=auth.principal.actor,
            question=body.question,
            context=context,
        )

    return _act(session, state, auth, request_id, "paused", step)


@router.post(
    f"{ACTIONS}/resume",
    response_model=shapes.RequestPublic,
    summary="The person replied: start the clock again",
)
def action_resume(
    body: shapes.Resume,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.resume(
            session=session, request=request, actor=auth.principal.actor, note=body.note
        )

    return _act(session, state, auth, request_id, "resumed", step)


@router.post(
    f"{ACTIONS}/refuse",
    response_model=shapes.RequestPublic,
    summary="Refuse, with the Art 12(5) or exemption reason (the letter names the ICO)",
)
def action_refuse(
    body: shapes.Refuse,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    context: LettersDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.refuse(
            session=session,
            request=request,
            actor=auth.principal.actor,
            reason=body.reason,
            explanation=body.explanation,
            context=context,
        )

    return _act(session, state, auth, request_id, "refused", step, {"reason": body.reason.value})


@router.post(
    f"{ACTIONS}/complete",
    response_model=shapes.RequestPublic,
    summary="Complete, sending the response letter",
)
def action_complete(
    body: shapes.Complete,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    context: LettersDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.complete(
            session=session,
            request=request,
            actor=auth.principal.actor,
            response=body.response,
            context=context,
        )

    return _act(session, state, auth, request_id, "completed", step)


@router.post(f"{ACTIONS}/cancel", response_model=shapes.RequestPublic, summary="Cancel")
def action_cancel(
    body: shapes.Cancel,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    context: LettersDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> list[Letter]:
        return workflow.cancel(
            session=session,
            request=request,
            actor=auth.principal.actor,
            reason=body.reason,
            context=context,
        )

    return _act(session, state, auth, request_id, "cancelled", step)


@router.post(
    f"{ACTIONS}/assign",
    response_model=shapes.RequestPublic,
    summary="Assign to a staff member who works requests, or unassign",
)
def action_assign(
    body: shapes.Assign,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
) -> shapes.RequestPublic:
    staff = None
    if body.staff_id is not None:
        staff = get_user_by_id(session=session, user_id=body.staff_id)
        if staff is None or staff.disabled_at is not None:
            raise InvalidValue("staff_id", "no active staff member has this id")
        if Permission.REQUESTS_WRITE not in ROLE_PERMISSIONS[Role(staff.role)]:
            raise InvalidValue("staff_id", "this staff member's role does not work requests")
    chosen = staff

    def step(request: Request) -> None:
        workflow.assign(session=session, request=request, actor=auth.principal.actor, staff=chosen)
        return None

    return _act(session, state, auth, request_id, "assigned", step, {"staff": body.staff_id})


@router.post(f"{ACTIONS}/note", response_model=shapes.RequestPublic, summary="Add a note for staff")
def action_note(
    body: shapes.Note,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
) -> shapes.RequestPublic:
    def step(request: Request) -> None:
        workflow.add_note(
            session=session, request=request, actor=auth.principal.actor, note=body.note
        )
        return None

    return _act(session, state, auth, request_id, "noted", step)
