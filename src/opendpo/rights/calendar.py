"""When each request is due: the ICO's deadline rules on the England-and-Wales working-day
calendar. Every other part of OpenDPO asks this module; none counts days on its own.

The rules (REFERENCE.md, "UK GDPR deadlines"):
- one month (Art 12(3)): from the day the clock starts to the same date next month;
- ten working days: the notice's own promise for updates to personal data;
- thirty days (DPA 2018 s.164A): acknowledging a complaint.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

from opendpo.errors import InvalidValue

LONDON = ZoneInfo("Europe/London")
MAX_EXTENSION_MONTHS = 2


class DeadlineRule(StrEnum):
    ONE_MONTH = "one_month"
    TEN_WORKING_DAYS = "ten_working_days"
    THIRTY_DAYS = "thirty_days"


RULE_FOR_KIND: Mapping[str, DeadlineRule] = MappingProxyType(
    {
        "informed": DeadlineRule.ONE_MONTH,
        "access": DeadlineRule.ONE_MONTH,
        # The notice promises updates "within ten (10) working days of any new or updated
        # personal data being provided": stricter than the month Art 12(3) allows.
        "rectification": DeadlineRule.TEN_WORKING_DAYS,
        "erasure": DeadlineRule.ONE_MONTH,
        "restriction": DeadlineRule.ONE_MONTH,
        "restriction_lift": DeadlineRule.ONE_MONTH,
        "portability": DeadlineRule.ONE_MONTH,
        "objection": DeadlineRule.ONE_MONTH,
        "human_review": DeadlineRule.ONE_MONTH,
        "consent_withdrawal": DeadlineRule.ONE_MONTH,
        "complaint": DeadlineRule.THIRTY_DAYS,
    }
)


@dataclass(frozen=True)
class Pause:
    """The clock stood still from `start` (clarification asked for) until `end` (the reply came):
    `end - start` days. `end` None: still waiting."""

    start: dt.date
    end: dt.date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise InvalidValue(
                "end", f"a pause cannot end ({self.end}) before it starts ({self.start})"
            )


@dataclass(frozen=True)
class Deadline:
    rule: DeadlineRule
    starts: dt.date
    due: dt.date
    # Without the extension: by this date the person must be told of an extension, with reasons.
    original_due: dt.date
    extended_months: int
    paused_days: int


def local_date(moment: dt.datetime) -> dt.date:
    """The date in London at `moment` (23:30 UTC on 31 March in summer time is 1 April).

    A naive datetime is taken as UTC, as the store keeps them (SQLite hands them back naive).
    """
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(LONDON).date()


def clock_start(
    *,
    received: dt.date,
    identity_verified: dt.date | None = None,
    authority: dt.date | None = None,
    fee_paid: dt.date | None = None,
) -> dt.date:
    """The day the clock starts: the latest of receipt of the request, of proof of identity, of a
    third party's authority and of a permitted fee."""
    return max(day for day in (received, identity_verified, authority, fee_paid) if day is not None)


def due(
    *,
    kind: str | DeadlineRule,
    starts: dt.date,
    extended_months: int = 0,
    pauses: Sequence[Pause] = (),
    paused_days: int = 0,
    today: dt.date | None = None,
) -> Deadline:
    """The deadline of a request of `kind` (a request kind or a rule) whose clock started on
    `starts`.

    `pauses` and `paused_days` (a count given directly) both stop the clock; an open pause counts
    up to `today` (default: today in London). Raises InvalidValue naming `kind`,
    `extended_months`, `paused_days` or `pauses`.
    """
    rule = rule_for(kind)
    if not 0 <= extended_months <= MAX_EXTENSION_MONTHS:
        raise InvalidValue(
            "extended_months", f"must be 0, 1 or 2 (further months), not {extended_months}"
        )
    if extended_months and rule is not DeadlineRule.ONE_MONTH:
        raise InvalidValue(
            "extended_months", f"only the one-month deadline can be extended, not {rule.value}"
        )
    if paused_days < 0:
        raise InvalidValue("paused_days", f"cannot be negative ({paused_days})")
    if rule is DeadlineRule.THIRTY_DAYS:
        if pauses or paused_days:
            # s.164A has no stop-the-clock: a complaint is acknowledged within 30 days regardless.
            field = "pauses" if pauses else "paused_days"
            raise InvalidValue(field, "the 30-day complaint acknowledgement cannot be paused")
        # "Within 30 days": not moved to a working day, which could make the acknowledgement late.
        day = starts + dt.timedelta(days=30)
        return Deadline(rule, starts, day, day, 0, 0)

    if today is None:
        today = local_date(dt.datetime.now(dt.UTC))
    paused = _days_paused(pauses, starts=starts, today=today) + paused_days
    stopped = dt.timedelta(days=paused)

    if rule is DeadlineRule.TEN_WORKING_DAYS:
        # The day the data is provided is not one of the ten ("within ten working days of").
        unrolled = add_working_days(starts, 10)
        # A paused day is a calendar day, as for the month; the sum may land on a weekend.
        day = next_working_day(unrolled + stopped)
        return Deadline(rule, starts, day, day, 0, paused)

    # The day of receipt is day one: due on the same date next month (the last day of a shorter
    # month); an extension counts its further months from the same start, and stopped days are
    # added before a weekend or bank holiday moves the date to the next working day.
    original = next_working_day(add_months(starts, 1) + stopped)
    extended = next_working_day(add_months(starts, 1 + extended_months) + stopped)
    return Deadline(rule, starts, extended, original, extended_months, paused)


def rule_for(kind: str | DeadlineRule) -> DeadlineRule:
    """The rule for a request kind (a rule is returned as it is)."""
    if isinstance(kind, DeadlineRule):
        return kind
    try:
        return RULE_FOR_KIND[kind]
    except KeyError:
        known = ", ".join(RULE_FOR_KIND)
        raise InvalidValue("kind", f"unknown request kind '{kind}' (one of: {known})") from None


def add_months(day: dt.date, months: int) -> dt.date:
    """The same date `months` later, or the last day of that month when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _days_paused(pauses: Sequence[Pause], *, starts: dt.date, today: dt.date) -> int:
    # A day in two overlapping pauses stood still once, and days before the clock started
    # cannot be taken off it: walk the pauses in order, counting only days not yet counted.
    total = 0
    counted_to = starts
    for began, ended in sorted((pause.start, pause.end or today) for pause in pauses):
        began = max(began, counted_to)
        if ended > began:
            total += (ended - began).days
            counted_to = ended
    return total


@lru_cache(maxsize=32)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    # England and Wales share bank holidays. The package lists a holiday on a weekend twice,
    # the weekend date and the weekday it is observed on; both are non-working days.
    # (country_holidays is the package's typed entry point; "GB" is holidays.UK.)
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday, and not an England-and-Wales bank holiday."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """`day` if it is a working day, otherwise the first working day after it."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The `count`th working day after `day` (before it when `count` is negative); `day` itself
    is never counted, and 0 gives `day` back unchanged."""
    step = dt.timedelta(days=1 if count >= 0 else -1)
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days from `start` to `end`: those after `start` up to and including `end`.

    0 when no working day lies after `start` up to `end` (due today). Negative when `end` is past:
    never above -1, even when only a weekend separates them, so a request past its due date
    always reads as overdue.
    """
    if end >= start:
        return _working_days_after(start, end)
    return -max(_working_days_after(end, start), 1)


def _working_days_after(start: dt.date, end: dt.date) -> int:
    # Whole weeks hold five weekdays each; the days left over fall on the same weekdays as the
    # first days after `start`, so only those and the bank holidays are walked.
    weeks, rest = divmod((end - start).days, 7)
    count = weeks * 5
    count += sum(1 for offset in range(1, rest + 1) if (start + dt.timedelta(offset)).weekday() < 5)
    for year in range(start.year, end.year + 1):
        count -= sum(
            1
            for holiday in _bank_holidays(year)
            if start < holiday <= end and holiday.weekday() < 5
        )
    return count
