"""A request's clock: when it starts, and how an extension or a pause moves the due date.

The dates themselves come from rights.calendar; this module applies them to a request and
writes each change to its timeline, with the letter the person is owed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.rights import calendar
from opendpo.rights.kinds import RequestKind
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.records import Request, RequestPause
from opendpo.rights.timeline import add_event
from opendpo.rights.workflow import checked_text, letter_to_person, require_open
from opendpo.security.audit import Actor


def refresh_deadline(request: Request, *, today: dt.date | None = None) -> None:
    """Recompute the due date from the clock start, pauses and extension (rights.calendar)."""
    if request.clock_starts_on is None:
        request.due_on = request.original_due_on = None
        return
    pauses = [calendar.Pause(p.started_on, p.ended_on) for p in request.pauses]
    deadline = calendar.due(
        kind=request.kind,
        starts=request.clock_starts_on,
        extended_months=request.extended_months,
        pauses=pauses
        if calendar.rule_for(request.kind) is not calendar.DeadlineRule.THIRTY_DAYS
        else (),
        today=today,
    )
    request.due_on = deadline.due
    request.original_due_on = deadline.original_due


def start_clock(request: Request, *, verified_at: dt.datetime) -> None:
    """The clock starts at the latest of receipt, proof of identity and authority (ICO).

    A complaint's 30 days run from receipt: acknowledging it needs no proof of identity.
    """
    received = calendar.local_date(request.received_at)
    if request.kind == RequestKind.COMPLAINT.value:
        request.clock_starts_on = received
    else:
        request.clock_starts_on = calendar.clock_start(
            received=received,
            identity_verified=calendar.local_date(verified_at),
            authority=request.authority_on,
        )
    refresh_deadline(request)


def extend(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    months: int,
    reason: str,
    context: LetterContext,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """Extend by up to two further months in all; only within the first month, with reasons."""
    moment = now or dt.datetime.now(dt.UTC)
    require_open(request)
    if request.original_due_on is None:
        raise InvalidValue("months", "the clock has not started: confirm the identity first")
    if calendar.rule_for(request.kind) is not calendar.DeadlineRule.ONE_MONTH:
        raise InvalidValue("months", "only requests with a one-month deadline can be extended")
    total = request.extended_months + months
    if months < 1 or total > calendar.MAX_EXTENSION_MONTHS:
        raise InvalidValue(
            "months",
            f"may add 1 or 2 months in all (already extended by {request.extended_months})",
        )
    if calendar.local_date(moment) > request.original_due_on:
        raise InvalidValue(
            "months", "the person must be told of an extension within the first month"
        )
    request.extended_months = total
    request.extension_reason = checked_text("reason", reason)
    request.extension_told_at = moment
    request.updated_at = moment
    refresh_deadline(request, today=calendar.local_date(moment))
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="extended",
        message=request.extension_reason,
        data={"months": months, "due_on": str(request.due_on)},
        public=True,
        now=moment,
    )
    return letter_to_person(request, "extension", context, reason=request.extension_reason)


def pause(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    question: str,
    context: LetterContext,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """Stop the clock while waiting for a clarification we genuinely need (Art 12A)."""
    moment = now or dt.datetime.now(dt.UTC)
    require_open(request)
    if request.kind == RequestKind.COMPLAINT.value:
        raise InvalidValue("question", "the complaint acknowledgement clock cannot be stopped")
    if any(p.ended_on is None for p in request.pauses):
        raise InvalidValue("question", "the clock is already stopped for a clarification")
    question = checked_text("question", question)
    today = calendar.local_date(moment)
    held = RequestPause(request_id=request.id, started_on=today, reason=question)
    session.add(held)
    request.pauses.append(held)
    request.updated_at = moment
    refresh_deadline(request, today=today)
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="paused",
        message=question,
        public=True,
        now=moment,
    )
    return letter_to_person(request, "clarification", context, question=question)


def resume(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    note: str = "",
    now: dt.datetime | None = None,
) -> list[Letter]:
    """The person replied: the clock runs again, the due date later by the days it stood."""
    moment = now or dt.datetime.now(dt.UTC)
    open_pauses = [p for p in request.pauses if p.ended_on is None]
    if not open_pauses:
        raise InvalidValue("note", "the clock is not stopped")
    today = calendar.local_date(moment)
    for held in open_pauses:
        held.ended_on = max(today, held.started_on)
    request.updated_at = moment
    refresh_deadline(request, today=today)
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="resumed",
        message=checked_text("note", note, required=False) or None,
        data={"due_on": str(request.due_on)},
        public=True,
        now=moment,
    )
    return []
