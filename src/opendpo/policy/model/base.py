"""Building blocks shared by every part of the policy schema."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

Key = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=120),
]
"""A stable identifier: lower-case words joined by `_`, dotted for taxonomy keys."""

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2, upper case (GB, IE, US)."""

Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

_DURATION = re.compile(r"^P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


def _check_duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(
            f"{value!r} is not an ISO 8601 period in years, months, weeks or days (e.g. P6Y, P18M)"
        )
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
"""An ISO 8601 period such as P6Y or P30D; calendar arithmetic is the retention engine's job."""


def duration_parts(value: str) -> tuple[int, int, int, int]:
    """(years, months, weeks, days) of a validated duration."""
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    years, months, weeks, days = (int(part or 0) for part in match.groups())
    return years, months, weeks, days


def add_duration(moment: dt.datetime, value: str) -> dt.datetime:
    """`moment` plus a duration, by the calendar: 31 January plus P1M is 28 or 29 February."""
    years, months, weeks, days = duration_parts(value)
    month_index = moment.month - 1 + months + 12 * years
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day) + dt.timedelta(weeks=weeks, days=days)


def describe_duration(value: str) -> str:
    """Plain English for a duration: P6Y -> '6 years'."""
    names = ("year", "month", "week", "day")
    parts = [
        f"{amount} {name}{'' if amount == 1 else 's'}"
        for amount, name in zip(duration_parts(value), names, strict=True)
        if amount
    ]
    return ", ".join(parts)


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a policy must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Keyed(StrictModel):
    key: Key
    name: Text
    description: Text | None = None
