"""Working a request: status changes, extension, pauses, assignment and notes.

Every function here changes one request in the caller's transaction, adds the events to its
timeline, and returns the letters the person is owed (`rights.letters`); the caller sends
them after committing. Staff actions are also written to the audit log by the caller's shell
(web or CLI), which knows the principal.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from opendpo.errors import DomainError, InvalidValue
from opendpo.rights.kinds import (
    CLOSED,
    TRANSITIONS,
    RefusalReason,
    RequestStatus,
)
from opendpo.rights.letters import Letter, LetterContext, render
from opendpo.rights.records import Request, StatusCallback
from opendpo.rights.timeline import add_event
from opendpo.security.audit import Actor
from opendpo.security.staff import StaffUser
from opendpo.subjects.identities import IdentityKind

MAX_TEXT = 10_000


class TransitionRefused(DomainError):
    """The request is not in a status from which this step may be taken."""

    code = "transition_refused"

    def __init__(self, request: Request, to: RequestStatus) -> None:
        super().__init__(
            f"request {request.reference} is {request.status.replace('_', ' ')}: "
            f"it cannot become {to.value.replace('_', ' ')}"
        )


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def checked_text(field: str, value: str, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidValue(field, "must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidValue(field, f"must be at most {MAX_TEXT} characters")
    return value


def contact_email(request: Request) -> str | None:
    """Where letters go: the first verified email identity, else the first email given."""
    emails = [i for i in request.identities if i.kind == IdentityKind.EMAIL.value]
    verified = [i for i in emails if i.verified_at is not None]
    chosen = verified or emails
    return chosen[0].value if chosen else None


def move(
    *,
    session: Session,
    request: Request,
    to: RequestStatus,
    actor: Actor,
    message: str | None = None,
    public: bool = True,
    now: dt.datetime | None = None,
) -> None:
    """Change the status along TRANSITIONS, with an event; TransitionRefused otherwise."""
    moment = _now(now)
    current = RequestStatus(request.status)
    if to not in TRANSITIONS[current]:
        raise TransitionRefused(request, to)
    request.status = to.value
    request.updated_at = moment
    if to in CLOSED:
        request.closed_at = moment
    # OpenDSR: a controller that sent the request is told of every change; owed in the same
    # transaction as the change, delivered (and retried) by rights.callbacks.
    for url in request.callback_urls:
        session.add(
            StatusCallback(
                request_id=request.id,
                url=url,
                status=to.value,
                created_at=moment,
                next_attempt_at=moment,
            )
        )
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="status",
        from_status=current.value,
        to_status=to.value,
        message=message,
        public=public,
        now=moment,
    )


def begin(
    *, session: Session, request: Request, actor: Actor, now: dt.datetime | None = None
) -> list[Letter]:
    move(session=session, request=request, to=RequestStatus.IN_PROGRESS, actor=actor, now=now)
    return []


def await_action(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    waiting_for: str,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """Waiting on a step (a supplier, another team); the clock keeps running."""
    waiting_for = checked_text("waiting_for", waiting_for)
    move(
        session=session,
        request=request,
        to=RequestStatus.AWAITING_ACTION,
        actor=actor,
        message=waiting_for,
        public=False,
        now=now,
    )
    return []


def complete(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    response: str,
    context: LetterContext,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """Done: `response` is the letter's body, which the person can read again online."""
    request.response = checked_text("response", response)
    move(session=session, request=request, to=RequestStatus.COMPLETED, actor=actor, now=now)
    return letter_to_person(request, "completion", context, response=request.response)


def refuse(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    reason: RefusalReason | str,
    explanation: str,
    context: LetterContext,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """Refused with the Art 12(5) or exemption reason; the letter names the right to complain."""
    try:
        chosen = RefusalReason(reason)
    except ValueError:
        choices = ", ".join(r.value for r in RefusalReason)
        raise InvalidValue("reason", f"'{reason}' is not a refusal reason ({choices})") from None
    explanation = checked_text("explanation", explanation)
    request.refusal_reason = chosen.value
    request.response = explanation
    move(
        session=session,
        request=request,
        to=RequestStatus.REFUSED,
        actor=actor,
        message=explanation,
        now=now,
    )
    return letter_to_person(request, "refusal", context, explanation=explanation)


def cancel(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    reason: str,
    context: LetterContext | None,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """Withdrawn by the person, or closed by staff (e.g. a duplicate); `context` None: no letter
    (a request never verified has no confirmed address to write to)."""
    reason = checked_text("reason", reason)
    move(
        session=session,
        request=request,
        to=RequestStatus.CANCELLED,
        actor=actor,
        message=reason,
        now=now,
    )
    if context is None or not any(i.verified_at for i in request.identities):
        return []
    return letter_to_person(request, "cancellation", context, reason=reason)


def assign(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    staff: StaffUser | None,
    now: dt.datetime | None = None,
) -> None:
    moment = _now(now)
    request.assigned_to = staff.id if staff is not None else None
    request.updated_at = moment
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="assigned",
        data={"staff": staff.username if staff is not None else None},
        now=moment,
    )


def add_note(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    note: str,
    now: dt.datetime | None = None,
) -> None:
    moment = _now(now)
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="note",
        message=checked_text("note", note),
        now=moment,
    )
    request.updated_at = moment


def require_open(request: Request) -> None:
    if RequestStatus(request.status) in CLOSED:
        raise InvalidValue("status", f"request {request.reference} is {request.status}")


def letter_to_person(
    request: Request, template: str, context: LetterContext, **extra: str
) -> list[Letter]:
    to = contact_email(request)
    if to is None:  # logged by phone or post with no email: staff write by the same route
        return []
    return [render(template, to=to, request=request, context=context, **extra)]
