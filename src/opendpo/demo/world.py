"""What every part of the generator shares: its random sources, its clock, ids, and the sink.

Everything random comes from two sources seeded with the build's seed (a `random.Random` for
every choice, Faker for names), and every date from `as_of`, so a seed and a day give the same
estate byte for byte.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from faker import Faker

from opendpo.demo.people import Directory

Row = dict[str, Any]
Emit = Callable[[str, Row], None]

HISTORY_DAYS = 7 * 365  # how far back the company's records go
OFFICE_HOURS = (8, 18)
IPV6_SHARE = 0.15
# First octets whose whole /8 is public: skipping the blocks that hold private, shared,
# loopback, link-local, documentation or benchmarking ranges leaves every address global.
PUBLIC_FIRST_OCTETS = tuple(
    n for n in range(1, 224) if n not in (10, 100, 127, 169, 172, 192, 198, 203)
)


class World:
    def __init__(
        self,
        *,
        rng: random.Random,
        fake: Faker,
        directory: Directory,
        as_of: dt.date,
        emit: Emit,
        first_ids: Mapping[str, int],
    ) -> None:
        self.rng = rng
        self.fake = fake
        self.directory = directory
        self.as_of = as_of
        self.start = as_of - dt.timedelta(days=HISTORY_DAYS)
        self.emit = emit
        self._next_ids = dict(first_ids)

    def next_id(self, table: str) -> int:
        """The next id of a table (`crm_db.contacts`); ids are given here, not by the database,
        so children can name their parents before either is written."""
        value = self._next_ids.get(table, 1)
        self._next_ids[table] = value + 1
        return value

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def day_between(self, first: dt.date, last: dt.date) -> dt.date:
        """A day from `first` to `last`, both included; `first` if the range is empty."""
        span = (last - first).days
        return first + dt.timedelta(days=self.rng.randint(0, span)) if span > 0 else first

    def day_after(self, day: dt.date, *, low: int, high: int) -> dt.date:
        """A day `low` to `high` days after `day`, but never after `as_of`."""
        return min(day + dt.timedelta(days=self.rng.randint(low, high)), self.as_of)

    def at_work(self, day: dt.date) -> dt.datetime:
        """A moment of office hours on `day` (UTC, naive, as the systems store it)."""
        seconds = self.rng.randrange(OFFICE_HOURS[0] * 3600, OFFICE_HOURS[1] * 3600)
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)

    def any_time(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=self.rng.randrange(86400))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def ip_address(self) -> str:
        """A public address: IPv4 mostly, IPv6 (global unicast, 2000::/3) now and then."""
        rng = self.rng
        if rng.random() < IPV6_SHARE:
            groups = [rng.randrange(0x2000, 0x4000)] + [rng.randrange(0x10000) for _ in range(7)]
            return str(ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups)))
        first = rng.choice(PUBLIC_FIRST_OCTETS)
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
