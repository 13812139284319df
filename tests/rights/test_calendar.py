"""The deadline calendar against dates worked out by hand on a printed calendar.

England-and-Wales bank holidays used below (gov.uk): 2026: 1 Jan, 3 and 6 Apr, 4 and 25 May,
31 Aug, 25 and 28 Dec (Boxing Day on a Saturday). 2027: 1 Jan, 26 and 29 Mar, 3 and 31 May,
30 Aug, 27 and 28 Dec (Christmas and Boxing Day on a weekend). 2028: 3 Jan (New Year's Day on
a Saturday), 14 and 17 Apr, 1 and 29 May, 28 Aug, 25 and 26 Dec. 2029: 1 Jan.
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from opendpo.errors import InvalidValue
from opendpo.rights import calendar
from opendpo.rights.calendar import (
    RULE_FOR_KIND,
    DeadlineRule,
    Pause,
    add_working_days,
    clock_start,
    due,
    is_working_day,
    local_date,
    next_working_day,
    working_days_between,
)

# (case, day the clock starts, due date): one month, no pause, no extension.
ONE_MONTH = [
    ("ICO example: 3 Oct is a Saturday", date(2026, 9, 3), date(2026, 10, 5)),
    ("31 Jan, 28 Feb a Sunday", date(2027, 1, 31), date(2027, 3, 1)),
    ("31 Jan in a leap year", date(2028, 1, 31), date(2028, 2, 29)),
    ("30 Jan in a leap year", date(2028, 1, 30), date(2028, 2, 29)),
    ("29 Jan, no 29 Feb", date(2027, 1, 29), date(2027, 3, 1)),
    ("28 Jan, 28 Feb a Sunday", date(2027, 1, 28), date(2027, 3, 1)),
    ("31 Jan, 28 Feb a Saturday", date(2026, 1, 31), date(2026, 3, 2)),
    ("29 Feb", date(2028, 2, 29), date(2028, 3, 29)),
    ("28 Mar is Easter Sunday", date(2027, 2, 28), date(2027, 3, 30)),
    ("Good Friday 2027", date(2027, 2, 26), date(2027, 3, 30)),
    ("Good Friday 2028", date(2028, 3, 14), date(2028, 4, 18)),
    ("Easter Monday 2028", date(2028, 3, 17), date(2028, 4, 18)),
    ("31 Mar, April is shorter", date(2027, 3, 31), date(2027, 4, 30)),
    ("31 Aug, September is shorter", date(2027, 8, 31), date(2027, 9, 30)),
    ("31 Oct, November is shorter", date(2027, 10, 31), date(2027, 11, 30)),
    ("31 Dec into January", date(2027, 12, 31), date(2028, 1, 31)),
    ("received on a bank holiday", date(2027, 5, 31), date(2027, 6, 30)),
    ("received on a Saturday", date(2027, 9, 4), date(2027, 10, 4)),
    ("October ends on a weekend: 30 Oct a Saturday", date(2027, 9, 30), date(2027, 11, 1)),
    ("April ends on a Sunday, then early May", date(2028, 3, 31), date(2028, 5, 2)),
    ("early May bank holiday 2027", date(2027, 4, 3), date(2027, 5, 4)),
    ("early May bank holiday 2028", date(2028, 4, 1), date(2028, 5, 2)),
    ("spring bank holiday after a Sunday", date(2027, 4, 30), date(2027, 6, 1)),
    ("spring bank holiday 2028", date(2028, 4, 29), date(2028, 5, 30)),
    ("summer bank holiday 2027", date(2027, 7, 30), date(2027, 8, 31)),
    ("summer bank holiday 2028", date(2028, 7, 28), date(2028, 8, 29)),
    ("Christmas Day on a Saturday", date(2027, 11, 25), date(2027, 12, 29)),
    ("Boxing Day on a Sunday", date(2027, 11, 26), date(2027, 12, 29)),
    ("Christmas substitute Monday", date(2027, 11, 27), date(2027, 12, 29)),
    ("Boxing Day substitute Tuesday", date(2027, 11, 28), date(2027, 12, 29)),
    ("Christmas on a Monday", date(2028, 11, 25), date(2028, 12, 27)),
    ("Boxing Day on a Saturday", date(2026, 11, 26), date(2026, 12, 29)),
    ("New Year's Day on a Saturday", date(2027, 12, 1), date(2028, 1, 4)),
    ("New Year's Day substitute", date(2027, 12, 3), date(2028, 1, 4)),
    ("New Year's Day on a Friday", date(2026, 12, 1), date(2027, 1, 4)),
]


@pytest.mark.parametrize(
    ("starts", "expected"), [c[1:] for c in ONE_MONTH], ids=[c[0] for c in ONE_MONTH]
)
def test_one_month(starts: date, expected: date) -> None:
    deadline = due(kind="access", starts=starts, today=starts)
    assert deadline.due == expected
    assert deadline.original_due == expected
    assert deadline.rule is DeadlineRule.ONE_MONTH
    assert deadline.starts == starts
    assert (deadline.extended_months, deadline.paused_days) == (0, 0)


# (case, starts, further months, original due, due)
EXTENDED = [
    ("31 Jan, full extension", date(2027, 1, 31), 2, date(2027, 3, 1), date(2027, 4, 30)),
    ("31 Jan, one month more", date(2027, 1, 31), 1, date(2027, 3, 1), date(2027, 3, 31)),
    ("into a Sunday 30 Jan", date(2027, 11, 30), 1, date(2027, 12, 30), date(2028, 1, 31)),
    ("30 Nov to 28 Feb", date(2028, 11, 30), 2, date(2029, 1, 2), date(2029, 2, 28)),
    ("onto Good Friday", date(2026, 12, 26), 2, date(2027, 1, 26), date(2027, 3, 30)),
    ("onto a Saturday 29 Jan", date(2027, 11, 29), 1, date(2027, 12, 29), date(2028, 1, 31)),
]


@pytest.mark.parametrize(
    ("starts", "months", "original", "expected"),
    [c[1:] for c in EXTENDED],
    ids=[c[0] for c in EXTENDED],
)
def test_extension(starts: date, months: int, original: date, expected: date) -> None:
    deadline = due(kind="erasure", starts=starts, extended_months=months, today=starts)
    assert deadline.due == expected
    assert deadline.original_due == original
    assert deadline.extended_months == months


# (case, starts, pauses, paused_days given directly, today, paused days, original due, due)
PAUSED = [
    (
        "one pause",
        date(2027, 1, 20),
        [Pause(date(2027, 1, 25), date(2027, 2, 5))],
        0,
        date(2027, 2, 10),
        11,
        date(2027, 3, 3),
        date(2027, 3, 3),
    ),
    (
        "pause across the end of January",
        date(2028, 1, 15),
        [Pause(date(2028, 1, 28), date(2028, 2, 3))],
        0,
        date(2028, 2, 10),
        6,
        date(2028, 2, 21),
        date(2028, 2, 21),
    ),
    (
        "added to 28 Feb before it rolls to 1 Mar",
        date(2027, 1, 31),
        [Pause(date(2027, 2, 27), date(2027, 3, 2))],
        0,
        date(2027, 3, 2),
        3,
        date(2027, 3, 3),
        date(2027, 3, 3),
    ),
    (
        "overlapping pauses count once",
        date(2027, 3, 1),
        [Pause(date(2027, 3, 10), date(2027, 3, 15)), Pause(date(2027, 3, 5), date(2027, 3, 12))],
        0,
        date(2027, 3, 20),
        10,
        date(2027, 4, 12),
        date(2027, 4, 12),
    ),
    (
        "two separate pauses",
        date(2027, 3, 1),
        [Pause(date(2027, 3, 2), date(2027, 3, 4)), Pause(date(2027, 3, 20), date(2027, 3, 23))],
        0,
        date(2027, 3, 25),
        5,
        date(2027, 4, 6),
        date(2027, 4, 6),
    ),
    (
        "open pause counts up to today",
        date(2027, 3, 1),
        [Pause(date(2027, 3, 10))],
        0,
        date(2027, 3, 17),
        7,
        date(2027, 4, 8),
        date(2027, 4, 8),
    ),
    (
        "open pause across the end of January",
        date(2027, 1, 15),
        [Pause(date(2027, 1, 25))],
        0,
        date(2027, 2, 4),
        10,
        date(2027, 2, 25),
        date(2027, 2, 25),
    ),
    (
        "days before the clock started do not count",
        date(2027, 3, 10),
        [Pause(date(2027, 3, 5), date(2027, 3, 12))],
        0,
        date(2027, 3, 20),
        2,
        date(2027, 4, 12),
        date(2027, 4, 12),
    ),
    (
        "paused days given directly, onto Good Friday",
        date(2027, 2, 20),
        [],
        6,
        date(2027, 2, 20),
        6,
        date(2027, 3, 30),
        date(2027, 3, 30),
    ),
    (
        "a pause that ended the day it began",
        date(2026, 9, 3),
        [Pause(date(2026, 9, 10), date(2026, 9, 10))],
        0,
        date(2026, 9, 20),
        0,
        date(2026, 10, 5),
        date(2026, 10, 5),
    ),
    (
        "a pause and paused days together",
        date(2027, 3, 1),
        [Pause(date(2027, 3, 2), date(2027, 3, 4))],
        3,
        date(2027, 3, 10),
        5,
        date(2027, 4, 6),
        date(2027, 4, 6),
    ),
    (
        "an open pause that begins after today",
        date(2027, 3, 1),
        [Pause(date(2027, 3, 10))],
        0,
        date(2027, 3, 5),
        0,
        date(2027, 4, 1),
        date(2027, 4, 1),
    ),
]


@pytest.mark.parametrize(
    ("starts", "pauses", "given", "today", "paused", "original", "expected"),
    [c[1:] for c in PAUSED],
    ids=[c[0] for c in PAUSED],
)
def test_stopped_clock(
    starts: date,
    pauses: list[Pause],
    given: int,
    today: date,
    paused: int,
    original: date,
    expected: date,
) -> None:
    deadline = due(kind="access", starts=starts, pauses=pauses, paused_days=given, today=today)
    assert deadline.paused_days == paused
    assert deadline.original_due == original
    assert deadline.due == expected


def test_pause_and_extension_together() -> None:
    # 30 Apr 2027 + 3 days is 3 May, the early May bank holiday; 28 Feb + 3 days is 3 Mar.
    deadline = due(kind="access", starts=date(2027, 1, 31), extended_months=2, paused_days=3)
    assert deadline.due == date(2027, 5, 4)
    assert deadline.original_due == date(2027, 3, 3)


def test_open_pause_counts_to_todays_london_date(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dt.datetime] = []

    def fake_local_date(moment: dt.datetime) -> date:
        seen.append(moment)
        return date(2027, 3, 17)

    monkeypatch.setattr(calendar, "local_date", fake_local_date)
    deadline = due(kind="access", starts=date(2027, 3, 1), pauses=[Pause(date(2027, 3, 10))])
    assert deadline.paused_days == 7
    assert deadline.due == date(2027, 4, 8)
    assert len(seen) == 1 and seen[0].utcoffset() == dt.timedelta(0)


# (case, the day the data was provided, due): rectification, ten working days.
TEN_WORKING_DAYS = [
    ("two plain weeks", date(2027, 1, 4), date(2027, 1, 18)),
    ("across Christmas and New Year 2027", date(2027, 12, 17), date(2028, 1, 5)),
    ("from 22 Dec 2027", date(2027, 12, 22), date(2028, 1, 10)),
    ("across Christmas 2026", date(2026, 12, 21), date(2027, 1, 7)),
    ("across Easter 2027", date(2027, 3, 22), date(2027, 4, 7)),
    ("across Easter 2028", date(2028, 4, 11), date(2028, 4, 27)),
    ("received on a Saturday", date(2027, 1, 2), date(2027, 1, 15)),
    ("received on a bank holiday", date(2027, 5, 31), date(2027, 6, 14)),
    ("across early May 2027", date(2027, 4, 26), date(2027, 5, 11)),
]


@pytest.mark.parametrize(
    ("starts", "expected"), [c[1:] for c in TEN_WORKING_DAYS], ids=[c[0] for c in TEN_WORKING_DAYS]
)
def test_ten_working_days(starts: date, expected: date) -> None:
    deadline = due(kind="rectification", starts=starts, today=starts)
    assert deadline.rule is DeadlineRule.TEN_WORKING_DAYS
    assert deadline.due == expected
    assert deadline.original_due == expected


def test_ten_working_days_paused_lands_on_a_saturday_and_rolls() -> None:
    # 18 Jan 2027 + 5 calendar days is Saturday 23 Jan.
    deadline = due(kind="rectification", starts=date(2027, 1, 4), paused_days=5)
    assert deadline.due == date(2027, 1, 25)


# (case, received, due): complaint acknowledgement, 30 calendar days, never moved.
THIRTY_DAYS = [
    ("plain", date(2027, 12, 1), date(2027, 12, 31)),
    ("lands on Boxing Day, a Sunday: not moved", date(2027, 11, 26), date(2027, 12, 26)),
    ("across 29 Feb", date(2028, 1, 31), date(2028, 3, 1)),
    ("across a 28-day February", date(2027, 1, 31), date(2027, 3, 2)),
    ("lands on a Saturday: not moved", date(2027, 2, 25), date(2027, 3, 27)),
]


@pytest.mark.parametrize(
    ("received", "expected"), [c[1:] for c in THIRTY_DAYS], ids=[c[0] for c in THIRTY_DAYS]
)
def test_thirty_days(received: date, expected: date) -> None:
    deadline = due(kind="complaint", starts=received)
    assert deadline.rule is DeadlineRule.THIRTY_DAYS
    assert deadline.due == expected


def test_every_request_kind_has_its_rule() -> None:
    assert dict(RULE_FOR_KIND) == {
        "informed": DeadlineRule.ONE_MONTH,
        "access": DeadlineRule.ONE_MONTH,
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


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (DeadlineRule.ONE_MONTH, date(2027, 3, 1)),
        (DeadlineRule.TEN_WORKING_DAYS, date(2027, 2, 12)),
        (DeadlineRule.THIRTY_DAYS, date(2027, 3, 2)),
    ],
)
def test_a_rule_can_be_given_instead_of_a_kind(kind: DeadlineRule, expected: date) -> None:
    # From Sunday 31 Jan 2027, ten working days: 1-5 Feb and 8-12 Feb.
    assert due(kind=kind, starts=date(2027, 1, 31), today=date(2027, 1, 31)).due == expected


@pytest.mark.parametrize(
    ("received", "verified", "authority", "fee", "expected"),
    [
        (date(2027, 1, 10), None, None, None, date(2027, 1, 10)),
        (date(2027, 1, 10), date(2027, 1, 31), None, None, date(2027, 1, 31)),
        (date(2027, 1, 10), date(2027, 1, 5), None, None, date(2027, 1, 10)),
        (
            date(2027, 1, 10),
            date(2027, 1, 12),
            date(2027, 1, 20),
            date(2027, 1, 15),
            date(2027, 1, 20),
        ),
        (date(2027, 1, 10), date(2027, 1, 12), None, date(2027, 2, 1), date(2027, 2, 1)),
    ],
)
def test_clock_starts_at_the_latest_of_its_dates(
    received: date, verified: date | None, authority: date | None, fee: date | None, expected: date
) -> None:
    assert (
        clock_start(
            received=received, identity_verified=verified, authority=authority, fee_paid=fee
        )
        == expected
    )


LONDON_DATES = [
    (
        "31 Mar 23:30 UTC in summer time is 1 Apr",
        dt.datetime(2027, 3, 31, 23, 30, tzinfo=dt.UTC),
        date(2027, 4, 1),
    ),
    (
        "31 Jan 23:30 UTC in winter is 31 Jan",
        dt.datetime(2027, 1, 31, 23, 30, tzinfo=dt.UTC),
        date(2027, 1, 31),
    ),
    (
        "the night before summer time starts",
        dt.datetime(2027, 3, 27, 23, 30, tzinfo=dt.UTC),
        date(2027, 3, 27),
    ),
    (
        "the first night of summer time",
        dt.datetime(2027, 3, 28, 23, 30, tzinfo=dt.UTC),
        date(2027, 3, 29),
    ),
    (
        "the last night of summer time",
        dt.datetime(2027, 10, 30, 23, 30, tzinfo=dt.UTC),
        date(2027, 10, 31),
    ),
    (
        "the first night of winter time",
        dt.datetime(2027, 10, 31, 23, 30, tzinfo=dt.UTC),
        date(2027, 10, 31),
    ),
    (
        "another zone: 20:00 in New York on 30 Jun",
        dt.datetime(2027, 6, 30, 20, 0, tzinfo=ZoneInfo("America/New_York")),
        date(2027, 7, 1),
    ),
    ("naive is UTC, as the store keeps it", dt.datetime(2027, 7, 31, 23, 30), date(2027, 8, 1)),
    (
        "new year's eve in winter",
        dt.datetime(2028, 12, 31, 23, 59, tzinfo=dt.UTC),
        date(2028, 12, 31),
    ),
]


@pytest.mark.parametrize(
    ("moment", "expected"), [c[1:] for c in LONDON_DATES], ids=[c[0] for c in LONDON_DATES]
)
def test_local_date(moment: dt.datetime, expected: date) -> None:
    assert local_date(moment) == expected


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 24), True),
        (date(2026, 12, 28), False),
        (date(2027, 3, 26), False),
        (date(2027, 3, 29), False),
        (date(2027, 3, 30), True),
        (date(2027, 5, 3), False),
        (date(2027, 8, 30), False),
        (date(2027, 12, 25), False),
        (date(2027, 12, 27), False),
        (date(2027, 12, 28), False),
        (date(2027, 12, 29), True),
        (date(2028, 1, 1), False),
        (date(2028, 1, 3), False),
        (date(2028, 1, 4), True),
        (date(2028, 2, 26), False),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 12, 24), date(2027, 12, 24)),
        (date(2027, 12, 25), date(2027, 12, 29)),
        (date(2028, 1, 1), date(2028, 1, 4)),
        (date(2027, 3, 26), date(2027, 3, 30)),
    ],
)
def test_next_working_day(day: date, expected: date) -> None:
    assert next_working_day(day) == expected


@pytest.mark.parametrize(
    ("day", "count", "expected"),
    [
        (date(2027, 12, 24), 1, date(2027, 12, 29)),
        (date(2027, 12, 25), 0, date(2027, 12, 25)),
        (date(2028, 1, 4), -1, date(2027, 12, 31)),
        (date(2027, 3, 31), -4, date(2027, 3, 23)),
    ],
)
def test_add_working_days(day: date, count: int, expected: date) -> None:
    assert add_working_days(day, count) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2027, 12, 24), date(2027, 12, 29), 1),
        (date(2027, 12, 20), date(2028, 1, 5), 9),
        (date(2027, 12, 24), date(2028, 1, 4), 4),
        (date(2027, 1, 1), date(2027, 12, 31), 253),
        (date(2027, 2, 20), date(2027, 3, 1), 6),
        (date(2027, 3, 1), date(2027, 3, 1), 0),
        (date(2027, 3, 1), date(2027, 2, 26), -1),
        (date(2027, 2, 27), date(2027, 2, 26), -1),
        (date(2027, 3, 2), date(2027, 2, 26), -2),
        (date(2028, 1, 5), date(2027, 12, 20), -9),
    ],
)
def test_working_days_between(start: date, end: date, expected: int) -> None:
    assert working_days_between(start, end) == expected


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"kind": "access", "extended_months": 3}, "extended_months"),
        ({"kind": "access", "extended_months": -1}, "extended_months"),
        ({"kind": "rectification", "extended_months": 1}, "extended_months"),
        ({"kind": "complaint", "extended_months": 2}, "extended_months"),
        ({"kind": "access", "paused_days": -1}, "paused_days"),
        ({"kind": "complaint", "paused_days": 2}, "paused_days"),
        ({"kind": "complaint", "pauses": [Pause(date(2027, 1, 5), date(2027, 1, 6))]}, "pauses"),
        ({"kind": "subject_access"}, "kind"),
    ],
)
def test_bad_values_name_their_field(arguments: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        due(starts=date(2027, 1, 4), today=date(2027, 1, 4), **arguments)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_a_pause_cannot_end_before_it_starts() -> None:
    with pytest.raises(InvalidValue) as raised:
        Pause(date(2027, 3, 10), date(2027, 3, 9))
    assert raised.value.field == "end"
    assert "2027-03-09" in raised.value.message
