"""The questions staff ask of the requests: which are open, what is due when, how many came in
and were answered each week, and which requests a person has made. The console, the API and
the CLI all list the queue, and count the working days left, here.

Read-only. What the queue and the figures show is references, kinds, statuses and dates,
never what a person wrote or who they are, so listing them needs no audit entry.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.rights import calendar
from opendpo.rights.kinds import CLOSED, OPEN, RequestKind, RequestStatus
from opendpo.rights.records import Request

PAGE_SIZE = 25
MAX_LIMIT = 200
DUE_SOON_WORKING_DAYS = 3
FIGURE_WEEKS = 12
OPEN_STATUS = "open"
CLOSED_STATUS = "closed"
STATUS_CHOICES = (OPEN_STATUS, CLOSED_STATUS, *(s.value for s in RequestStatus))
# Answered requests are the ones whose timeliness counts: a cancellation answers nothing.
ANSWERED = frozenset({RequestStatus.COMPLETED, RequestStatus.REFUSED})


def london_today() -> dt.date:
    """Today in London: the deadline calendar's days are London days."""
    return calendar.local_date(dt.datetime.now(dt.UTC))


class Assignment(StrEnum):
    """The console's choice of whose requests to show."""

    ANYONE = ""
    ME = "me"
    UNASSIGNED = "unassigned"


class Urgency(StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    ON_TRACK = "on_track"
    NONE = ""  # closed, or the clock has not started


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows; empty strings mean "any". `status` is a status, "open" or
    "closed"; `reference` is R-XXXXXXXX or the part after "R-", any case; `received_from`
    and `received_to` are London days, both included. InvalidValue, naming the field, when
    a value is wrong."""

    status: str = OPEN_STATUS
    kind: str = ""
    assigned_to: str = ""  # a staff member's id
    unassigned: bool = False
    overdue_only: bool = False
    reference: str = ""
    received_from: dt.date | None = None
    received_to: dt.date | None = None

    def __post_init__(self) -> None:
        if self.status and self.status not in STATUS_CHOICES:
            choices = ", ".join(STATUS_CHOICES)
            raise InvalidValue("status", f"'{self.status}' is not a status ({choices})")
        if self.kind and self.kind not in {k.value for k in RequestKind}:
            choices = ", ".join(k.value for k in RequestKind)
            raise InvalidValue("kind", f"'{self.kind}' is not a request kind ({choices})")
        if self.assigned_to and self.unassigned:
            raise InvalidValue("assigned_to", "a request assigned to someone is not unassigned")
        if self.received_from and self.received_to and self.received_from > self.received_to:
            raise InvalidValue("received_to", "must not be before received_from")


def parse_filter(
    *, status: str, kind: str, assigned: str, overdue: str, reference: str, staff_id: str | None
) -> QueueFilter:
    """The filter from the console's query string, "me" being `staff_id`; InvalidValue names
    the field that is wrong."""
    try:
        assignment = Assignment(assigned)
    except ValueError:
        raise InvalidValue("assigned", "choose me, unassigned or anyone") from None
    if assignment is Assignment.ME and not staff_id:
        raise InvalidValue("assigned", "only a staff member has requests assigned to them")
    if overdue not in ("", "1", "on", "true"):
        raise InvalidValue("overdue", "tick the box or leave it empty")
    return QueueFilter(
        status=status,
        kind=kind,
        assigned_to=(staff_id or "") if assignment is Assignment.ME else "",
        unassigned=assignment is Assignment.UNASSIGNED,
        overdue_only=bool(overdue),
        reference=reference.strip().upper()[:16],
    )


@dataclass(frozen=True)
class QueueRow:
    """A request in the queue with its working days left (negative once it is overdue)."""

    request: Request
    days_left: int | None
    urgency: Urgency

    # What the queue's table shows, read from the request; never its details.
    @property
    def id(self) -> str:
        return self.request.id

    @property
    def reference(self) -> str:
        return self.request.reference

    @property
    def kind(self) -> str:
        return self.request.kind

    @property
    def status(self) -> str:
        return self.request.status

    @property
    def received_at(self) -> dt.datetime:
        return self.request.received_at

    @property
    def due_on(self) -> dt.date | None:
        return self.request.due_on

    @property
    def assigned_to(self) -> str | None:
        return self.request.assigned_to


@dataclass(frozen=True)
class QueuePage:
    """`limit` rows from `offset`, and how many match in all."""

    rows: list[QueueRow]
    total: int
    limit: int
    offset: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))


def urgency(*, status: str, due_on: dt.date | None, today: dt.date) -> tuple[int | None, Urgency]:
    """Working days left (0: due today; negative: overdue) and how pressing that is; nothing
    for closed or unclocked requests."""
    if due_on is None or RequestStatus(status) in CLOSED:
        return None, Urgency.NONE
    left = calendar.working_days_between(today, due_on)
    if left < 0:
        return left, Urgency.OVERDUE
    if left <= DUE_SOON_WORKING_DAYS:
        return left, Urgency.DUE_SOON
    return left, Urgency.ON_TRACK


def _london_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=calendar.LONDON).astimezone(dt.UTC)


def _conditions(filters: QueueFilter, *, today: dt.date) -> list[ColumnElement[bool]]:
    open_values = [s.value for s in OPEN]
    conditions: list[ColumnElement[bool]] = []
    if filters.status == OPEN_STATUS:
        conditions.append(Request.status.in_(open_values))
    elif filters.status == CLOSED_STATUS:
        conditions.append(Request.status.in_([s.value for s in CLOSED]))
    elif filters.status:
        conditions.append(Request.status == filters.status)
    if filters.kind:
        conditions.append(Request.kind == filters.kind)
    if filters.assigned_to:
        conditions.append(Request.assigned_to == filters.assigned_to)
    elif filters.unassigned:
        conditions.append(Request.assigned_to.is_(None))
    if filters.overdue_only:
        conditions.append(and_(Request.status.in_(open_values), Request.due_on < today))
    if filters.reference:
        # References are quoted with or without the "R-"; either finds the request.
        wanted = filters.reference.strip().upper()
        bare = wanted.removeprefix("R-")
        conditions.append(or_(Request.reference == wanted, Request.reference == f"R-{bare}"))
    # Days are London days, as the deadlines are; the bounds are whole days, both included.
    if filters.received_from is not None:
        conditions.append(Request.received_at >= _london_midnight(filters.received_from))
    if filters.received_to is not None:
        next_day = filters.received_to + dt.timedelta(days=1)
        conditions.append(Request.received_at < _london_midnight(next_day))
    return conditions


def list_requests(
    *,
    session: Session,
    filters: QueueFilter,
    today: dt.date,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> QueuePage:
    """`limit` requests of the queue from `offset`: open ones first, then by due date (undated
    last), date received and reference."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue("limit", f"must be from 1 to {MAX_LIMIT}")
    if offset < 0:
        raise InvalidValue("offset", "must not be negative")
    conditions = _conditions(filters, today=today)
    total = session.scalar(select(func.count()).select_from(Request).where(*conditions)) or 0
    open_first = case((Request.status.in_([s.value for s in OPEN]), 0), else_=1)
    query = (
        select(Request)
        .where(*conditions)
        .order_by(
            open_first,
            Request.due_on.is_(None),
            Request.due_on,
            Request.received_at,
            Request.reference,
        )
        .limit(limit)
        .offset(offset)
    )
    rows = []
    for found in session.scalars(query):
        left, pressing = urgency(status=found.status, due_on=found.due_on, today=today)
        rows.append(QueueRow(request=found, days_left=left, urgency=pressing))
    return QueuePage(rows=rows, total=total, limit=limit, offset=offset)


def list_page(
    *,
    session: Session,
    filters: QueueFilter,
    today: dt.date,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """Page `page` (from 1) of the queue; past the last page, the last page."""

    def at(number: int) -> QueuePage:
        offset = (number - 1) * page_size
        return list_requests(
            session=session, filters=filters, today=today, limit=page_size, offset=offset
        )

    found = at(max(page, 1))
    return found if found.page <= found.pages else at(found.pages)


def status_counts(*, session: Session) -> dict[str, int]:
    """How many requests are in each status (statuses with none are 0)."""
    found = dict(
        session.execute(select(Request.status, func.count()).group_by(Request.status)).all()
    )
    return {status.value: found.get(status.value, 0) for status in RequestStatus}


def overdue_count(*, session: Session, today: dt.date) -> int:
    query = select(func.count()).where(
        Request.status.in_([s.value for s in OPEN]), Request.due_on < today
    )
    return session.scalar(query) or 0


@dataclass(frozen=True)
class WeekFigures:
    """One ISO week (Monday to Sunday, London dates)."""

    start: dt.date
    received: int
    completed: int
    answered: int  # completed or refused this week
    on_time: int  # of those answered, on or before the due date

    @property
    def iso_week(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def on_time_rate(self) -> float | None:
        return 100 * self.on_time / self.answered if self.answered else None


def last_weeks(*, today: dt.date, count: int = FIGURE_WEEKS) -> list[dt.date]:
    """The Mondays of the last `count` ISO weeks, oldest first, this week last."""
    monday = today - dt.timedelta(days=today.weekday())
    return [monday - dt.timedelta(weeks=back) for back in range(count - 1, -1, -1)]


def weekly_figures(*, session: Session, weeks: Sequence[dt.date]) -> list[WeekFigures]:
    """Received, completed and answered on time per week starting on each of `weeks`.

    An answer is on time when its London date is on or before the due date; one without a
    due date (refused before any identity was confirmed, so no clock ran) is on time.
    """
    if not weeks:
        return []
    # A day's margin either side: weeks are London dates, the columns UTC instants.
    since = dt.datetime.combine(weeks[0] - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    received: dict[dt.date, int] = dict.fromkeys(weeks, 0)
    completed = dict(received)
    answered = dict(received)
    on_time = dict(received)

    def week_of(moment: dt.datetime) -> dt.date | None:
        day = calendar.local_date(moment)
        monday = day - dt.timedelta(days=day.weekday())
        return monday if monday in received else None

    for (moment,) in session.execute(
        select(Request.received_at).where(Request.received_at >= since)
    ):
        week = week_of(moment)
        if week is not None:
            received[week] += 1
    closed = select(Request.status, Request.closed_at, Request.due_on).where(
        Request.status.in_([s.value for s in ANSWERED]), Request.closed_at >= since
    )
    for status, closed_at, due_on in session.execute(closed):
        week = week_of(closed_at) if closed_at is not None else None
        if week is None or closed_at is None:
            continue
        answered[week] += 1
        if status == RequestStatus.COMPLETED.value:
            completed[week] += 1
        if due_on is None or calendar.local_date(closed_at) <= due_on:
            on_time[week] += 1
    return [
        WeekFigures(
            start=week,
            received=received[week],
            completed=completed[week],
            answered=answered[week],
            on_time=on_time[week],
        )
        for week in weeks
    ]


def requests_of_person(*, session: Session, person_id: str) -> Sequence[Request]:
    """The requests linked to a person (once an identity was verified), newest first."""
    query = (
        select(Request)
        .where(Request.person_id == person_id)
        .order_by(Request.received_at.desc(), Request.reference)
    )
    return session.scalars(query).all()
