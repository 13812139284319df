"""Figures about consent for the console: rates per purpose over time, the suppression list,
and preferences waiting for renewal. Aggregates only: no person is named in any of them.

The rate of a purpose in a week is the share of the people asked about it (anyone with a
ledger record for the purpose before the week ended) whose preference at the end of that
week was a live consent: on at least one channel, their latest record by then says given
and had not lapsed. "Latest" is by ledger order, as for the current preferences, so the
figure for the week in progress agrees with what the person pages show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    and_,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from opendpo.consent.ledger import Channel, ConsentRecord, ConsentState, CurrentConsent
from opendpo.consent.suppression import Suppression
from opendpo.errors import InvalidValue
from opendpo.security.audit import as_utc

DEFAULT_WEEKS = 12
MAX_WEEKS = 104  # two years: beyond that the weekly chart is unreadable


@dataclass(frozen=True)
class Week:
    """Monday 00:00 UTC to the next Monday; `as_of` is when the week ended, or now."""

    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime


@dataclass(frozen=True)
class WeekFigures:
    week: Week
    asked: int  # people with a record for the purpose before the week ended
    consenting: int  # of those, people whose preference was a live consent at its end
    given: int  # records of the week, by state
    withdrawn: int
    refused: int

    @property
    def rate(self) -> float | None:
        """Per cent of those asked; None before anyone was asked."""
        return 100 * self.consenting / self.asked if self.asked else None


def check_weeks(value: str | int | None) -> int:
    """The number of weeks a report covers; InvalidValue naming `weeks` if out of range."""
    if value is None or value == "":
        return DEFAULT_WEEKS
    try:
        weeks = int(value)
    except ValueError:
        raise InvalidValue("weeks", f"give a whole number from 1 to {MAX_WEEKS}") from None
    if not 1 <= weeks <= MAX_WEEKS:
        raise InvalidValue("weeks", f"give a whole number from 1 to {MAX_WEEKS}")
    return weeks


def last_weeks(*, now: dt.datetime, count: int) -> list[Week]:
    """The `count` weeks up to and including the one in progress, oldest first."""
    now = as_utc(now)
    monday = dt.datetime.combine(
        now.date() - dt.timedelta(days=now.weekday()), dt.time(), tzinfo=dt.UTC
    )
    weeks = []
    for back in range(count - 1, -1, -1):
        start = monday - dt.timedelta(weeks=back)
        end = start + dt.timedelta(weeks=1)
        weeks.append(Week(start=start, end=end, as_of=min(end, now)))
    return weeks


def consent_rates(
    *, session: Session, purposes: Sequence[str], weeks: Sequence[Week]
) -> dict[str, list[WeekFigures]]:
    """Per purpose, the figures of every week (oldest first), computed in two queries."""
    figures: dict[str, list[WeekFigures]] = {p: [] for p in purposes}
    if not purposes or not weeks:
        return figures
    calendar = _calendar(weeks)
    record = ConsentRecord
    # Cookie categories share the purpose column but are not purposes: keep them out.
    scope = and_(record.purpose.in_(list(purposes)), record.channel != Channel.COOKIE.value)

    # Each person's preference per purpose and channel at the end of each week: the record
    # of theirs latest in ledger order among those made before the week ended.
    ranked = (
        select(
            calendar.c.week,
            calendar.c.as_of,
            record.person_id,
            record.purpose,
            record.state,
            record.expires_at,
            func.row_number()
            .over(
                partition_by=(calendar.c.week, record.person_id, record.purpose, record.channel),
                order_by=record.seq.desc(),
            )
            .label("latest"),
        )
        .join_from(calendar, record, record.at < calendar.c.week_end)
        .where(scope)
        .subquery()
    )
    live = and_(
        ranked.c.state == ConsentState.GIVEN.value,
        or_(ranked.c.expires_at.is_(None), ranked.c.expires_at > ranked.c.as_of),
    )
    standing = session.execute(
        select(
            ranked.c.week,
            ranked.c.purpose,
            func.count(distinct(ranked.c.person_id)),
            func.count(distinct(case((live, ranked.c.person_id)))),
        )
        .where(ranked.c.latest == 1)
        .group_by(ranked.c.week, ranked.c.purpose)
    ).all()

    made = session.execute(
        select(calendar.c.week, record.purpose, record.state, func.count())
        .join_from(
            calendar,
            record,
            and_(record.at >= calendar.c.week_start, record.at < calendar.c.week_end),
        )
        .where(scope)
        .group_by(calendar.c.week, record.purpose, record.state)
    ).all()

    asked = {(week, purpose): (n, live_n) for week, purpose, n, live_n in standing}
    records = {(week, purpose, state): n for week, purpose, state, n in made}
    for purpose in purposes:
        for index, week in enumerate(weeks):
            people, consenting = asked.get((index, purpose), (0, 0))
            figures[purpose].append(
                WeekFigures(
                    week=week,
                    asked=people,
                    consenting=consenting,
                    given=records.get((index, purpose, ConsentState.GIVEN.value), 0),
                    withdrawn=records.get((index, purpose, ConsentState.WITHDRAWN.value), 0),
                    refused=records.get((index, purpose, ConsentState.REFUSED.value), 0),
                )
            )
    return figures


def _calendar(weeks: Sequence[Week]) -> Any:
    """The weeks as rows (week index, start, end, as of), for joining against the ledger."""
    stamp = DateTime(timezone=True)
    rows = [
        select(
            literal(index, Integer).label("week"),
            literal(week.start, stamp).label("week_start"),
            literal(week.end, stamp).label("week_end"),
            literal(week.as_of, stamp).label("as_of"),
        )
        for index, week in enumerate(weeks)
    ]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte("weeks")


def suppressions_by_reason(*, session: Session) -> dict[str, int]:
    """Entries on the suppression list per reason, largest first."""
    rows = session.execute(
        select(Suppression.reason, func.count())
        .group_by(Suppression.reason)
        .order_by(func.count().desc(), Suppression.reason)
    ).all()
    return dict(rows)


def renewals_needed(*, session: Session, purposes: Sequence[str]) -> dict[str, int]:
    """Per purpose, the consents given to an earlier wording that await the person's answer.

    Withdrawn or refused preferences marked for renewal are left out: there is nothing to
    renew, the decision point denies them anyway.
    """
    rows = session.execute(
        select(CurrentConsent.purpose, func.count())
        .where(
            CurrentConsent.needs_renewal,
            CurrentConsent.state == ConsentState.GIVEN.value,
            CurrentConsent.channel != Channel.COOKIE.value,
            CurrentConsent.purpose.in_(list(purposes)),
        )
        .group_by(CurrentConsent.purpose)
    ).all()
    counts = dict(rows)
    return {purpose: counts.get(purpose, 0) for purpose in purposes}
