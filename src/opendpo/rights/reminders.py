"""Reminding staff of requests about to fall due, and of those past due.

One reminder of each kind per request and due date, however many processes run this at once:
a reminder is claimed by inserting its RequestReminder row (unique per request, kind and due
date) and committing, and only the process whose insert won sends it. Committing the claim
before sending means a crash can lose a reminder but never send one twice; a send that fails
gives the claim back, with a note on the timeline, so that a later run tries again.

The email names the request by reference, kind and dates only: nothing the person wrote, and
no identity, travels in it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opendpo.mail.sender import Mailer, MailNotSent
from opendpo.policy.versions import current_version
from opendpo.rights import calendar
from opendpo.rights.kinds import LABELS, OPEN, STATUS_LABELS, RequestKind, RequestStatus
from opendpo.rights.records import Request, RequestReminder
from opendpo.rights.timeline import add_event
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.roles import Role
from opendpo.security.staff import StaffUser

logger = logging.getLogger("opendpo.rights.reminders")

REMINDER_ACTOR = Actor(ActorKind.SYSTEM, "reminders")


class ReminderKind(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("opendpo.rights", "letters"),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def reminder_due(
    request: Request, *, today: dt.date, working_days: int
) -> tuple[ReminderKind, int] | None:
    """Which reminder the request is owed today, with its working days left, if any."""
    if request.due_on is None or RequestStatus(request.status) not in OPEN:
        return None
    if any(p.ended_on is None for p in request.pauses):
        return None  # the clock is stopped: the due date moves each day until the reply
    left = calendar.working_days_between(today, request.due_on)
    if request.due_on < today:
        return ReminderKind.OVERDUE, left
    if left <= working_days:
        return ReminderKind.DUE_SOON, left
    return None


def recipients(*, session: Session, request: Request) -> list[StaffUser]:
    """The assignee if still active, else every active DPO."""
    if request.assigned_to is not None:
        assignee = session.get(StaffUser, request.assigned_to)
        if assignee is not None and assignee.disabled_at is None:
            return [assignee]
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.role == Role.DPO.value, StaffUser.disabled_at.is_(None))
            .order_by(StaffUser.username)
        )
    )


def addresses(*, session: Session, mailer: Mailer, staff: Sequence[StaffUser]) -> list[str]:
    """Staff accounts hold no email address: username@staff_mail_domain when that is set,
    else the DPO address of the policy in force (one message, whoever it is for)."""
    domain = mailer.settings.staff_mail_domain
    if domain:
        return [f"{member.username}@{domain}" for member in staff]
    if not staff:
        return []
    version = current_version(session=session)
    if version is None:
        return []
    return [version.policy().controller.dpo.email]


def _claim(*, session: Session, request: Request, kind: ReminderKind, now: dt.datetime) -> bool:
    assert request.due_on is not None
    session.add(
        RequestReminder(request_id=request.id, kind=kind.value, due_on=request.due_on, sent_at=now)
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another process claimed it first
        return False
    return True


def _unclaim(*, session: Session, request_id: str, kind: ReminderKind, due_on: dt.date) -> None:
    session.execute(
        delete(RequestReminder).where(
            RequestReminder.request_id == request_id,
            RequestReminder.kind == kind.value,
            RequestReminder.due_on == due_on,
        )
    )


def owed(
    *, session: Session, today: dt.date, working_days: int
) -> list[tuple[Request, ReminderKind, int]]:
    """The reminders owed today and not yet sent: request, kind, working days left."""
    horizon = calendar.add_working_days(today, working_days)
    candidates = session.scalars(
        select(Request)
        .where(
            Request.status.in_([s.value for s in OPEN]),
            Request.due_on.is_not(None),
            Request.due_on <= horizon,
        )
        .order_by(Request.due_on, Request.id)
    ).all()
    found: list[tuple[Request, ReminderKind, int]] = []
    for request in candidates:
        due = reminder_due(request, today=today, working_days=working_days)
        if due is not None and not _claimed(session=session, request=request, kind=due[0]):
            found.append((request, *due))
    return found


def _claimed(*, session: Session, request: Request, kind: ReminderKind) -> bool:
    return (
        session.scalar(
            select(RequestReminder.id).where(
                RequestReminder.request_id == request.id,
                RequestReminder.kind == kind.value,
                RequestReminder.due_on == request.due_on,
            )
        )
        is not None
    )


def send_reminders(
    *, session: Session, mailer: Mailer, base_url: str, now: dt.datetime | None = None
) -> int:
    """Send every reminder owed now; the number sent. Commits as it goes (see the module)."""
    moment = now or dt.datetime.now(dt.UTC)
    today = calendar.local_date(moment)
    working_days = mailer.settings.reminder_working_days
    ids = [
        request.id
        for request, _, _ in owed(session=session, today=today, working_days=working_days)
    ]
    sent = 0
    for request_id in ids:
        # Read afresh: another process may have closed, extended or reminded it meanwhile.
        session.rollback()
        current = session.get(Request, request_id)
        found = (
            reminder_due(current, today=today, working_days=working_days)
            if current is not None
            else None
        )
        if current is None or found is None:
            continue
        kind, left = found
        if not _claimed(session=session, request=current, kind=kind) and _remind(
            session=session,
            mailer=mailer,
            base_url=base_url,
            request=current,
            kind=kind,
            left=left,
            now=moment,
        ):
            sent += 1
    session.rollback()
    return sent


def _remind(
    *,
    session: Session,
    mailer: Mailer,
    base_url: str,
    request: Request,
    kind: ReminderKind,
    left: int,
    now: dt.datetime,
) -> bool:
    due_on = request.due_on
    assert due_on is not None
    request_id, reference = request.id, request.reference
    staff = recipients(session=session, request=request)
    to = addresses(session=session, mailer=mailer, staff=staff)
    if not to:
        logger.warning("no active DPO to remind of request %s", reference)
        session.rollback()
        return False
    assignee = session.get(StaffUser, request.assigned_to) if request.assigned_to else None
    text = (
        _environment()
        .get_template("staff_reminder.txt")
        .render(
            reference=reference,
            kind_label=LABELS[RequestKind(request.kind)],
            status=STATUS_LABELS[RequestStatus(request.status)],
            due_on=f"{due_on:%A} {due_on.day} {due_on:%B %Y}",
            days_left=left,
            overdue=kind is ReminderKind.OVERDUE,
            assignee=assignee.username if assignee is not None else None,
            link=f"{base_url.rstrip('/')}/console/requests/{request_id}",
        )
    )
    subject, _, body = text.partition("\n")
    if not _claim(session=session, request=request, kind=kind, now=now):
        return False
    try:
        for address in to:
            mailer.send(
                mailer.new_message(to=address, subject=subject.strip(), text=body.lstrip("\n"))
            )
    except (MailNotSent, OSError) as exc:
        logger.warning("the %s reminder of request %s was not sent: %s", kind.value, reference, exc)
        _unclaim(session=session, request_id=request_id, kind=kind, due_on=due_on)
        add_event(
            session=session,
            request=request,
            actor=REMINDER_ACTOR,
            kind="reminder_failed",
            message=str(exc),
            data={"reminder": kind.value, "due_on": str(due_on)},
            now=now,
        )
        session.commit()
        return False
    add_event(
        session=session,
        request=request,
        actor=REMINDER_ACTOR,
        kind="reminder_sent",
        data={
            "reminder": kind.value,
            "due_on": str(due_on),
            "working_days_left": left,
            "staff": [member.username for member in staff],
        },
        now=now,
    )
    session.commit()
    return True
