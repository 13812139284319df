"""A long campaign list on PostgreSQL, decided by one statement over the whole list.

Probing indexes a row at a time (the chunked path, `chunk_facts`) costs PostgreSQL 15 to 22 µs
a row at a million people: the identity, the consent and the person's other addresses, each a
B-tree descent in random order. Joining the whole list with those tables at once, by hash,
reads each table in order once, as hand-written SQL would. So a list longer than two chunks
is copied into a temporary table (COPY, fed as it is read and hashed: Python holds one row
at a time), analysed, and read back in list order through one statement and a server-side
cursor, a batch at a time. Memory stays bounded; only the first answer waits for the last
row to be read.

The statement is built from the chunked path's expressions (`chunk_facts.facts_over`), so the
two paths cannot decide differently; tests hold them to the same outcomes row for row.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence, Set
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    SmallInteger,
    Table,
    Text,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from opendpo.decisions.chunk_facts import facts_over
from opendpo.decisions.rules import Rule

# Rows fetched from the server-side cursor per round trip.
FETCH_ROWS = 10_000
# Planner settings for the one statement, in place of `plan_for_chunks`' (which forbid the
# hash joins this path exists for; its JIT stays off: it would compile for longer than most
# lists take to join). Hashing a million identities and sorting a million answers back into
# list order spill to disk with the stock 4 MB: measured at a million people, reading the
# answers took 5.2 s with 16 MB, 4.3 s with 64 MB, 4.0 s with 128 MB and 3.8 s with 256 MB.
WHOLE_LIST_SETTINGS = {
    "enable_hashjoin": "on",
    "enable_mergejoin": "on",
    "work_mem": "'128MB'",
}

# A loaded row: (place, the kind's number in `kinds` (None for a malformed row), the kind and
# the value as given, the blind index (None for a malformed row), the error message or None,
# and `held` (see below) or None).
Loaded = tuple[int, int | None, str | None, str | None, str | None, str | None, str | None]
# Where an answer's row starts (place, kind, value, error, held, person id, *key).
KEY_AT = 6


def storable(given: str) -> bool:
    """Whether PostgreSQL can hold the string as text: not with a NUL, and not with a lone
    surrogate (a JSON list can carry one), which is not UTF-8."""
    if given.isascii():
        return "\x00" not in given
    try:
        given.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in given


def held(kind: str, value: str, error: str | None) -> str:
    """A row no text column could hold, as ASCII JSON (which escapes both), handed back by
    `unheld` exactly as given."""
    return json.dumps([kind, value, error])


def unheld(stored: str) -> tuple[str, str, str | None]:
    kind, value, error = json.loads(stored)
    return kind, value, error


def worth_it(session: Session) -> bool:
    """Whether the store is one this path is for: PostgreSQL. SQLite probes its indexes
    in-process for less than a hash join would cost it (the chunked path runs at 1.01x of
    the benchmark's hand-written anti-join there)."""
    return session.get_bind().dialect.name == "postgresql"


class ListTable:
    """The list, in a temporary table of the session's transaction (dropped at its end)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.name = f"opendpo_list_{uuid.uuid4().hex[:12]}"
        self.rows = 0  # loaded
        self.table = Table(
            self.name,
            MetaData(),
            Column("place", BigInteger),
            Column("kind_no", SmallInteger),
            Column("kind", Text),
            Column("value", Text),
            Column("blind_index", Text),
            Column("error", Text),
            Column("held", Text),
        )

    def load(self, rows: Iterable[Loaded]) -> None:
        raw: Any = self.session.connection().connection.dbapi_connection
        with raw.cursor() as cursor:
            # Gone when the caller's transaction ends, however the stream was left (a pooled
            # connection must not carry it on); `read` drops it as soon as it is read out.
            cursor.execute(
                f'CREATE TEMPORARY TABLE "{self.name}" (place bigint, kind_no smallint, '
                "kind text, value text, blind_index text, error text, held text) ON COMMIT DROP"
            )
            columns = "place, kind_no, kind, value, blind_index, error, held"
            with cursor.copy(f'COPY "{self.name}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    self.rows += 1
            cursor.execute(f'ANALYZE "{self.name}"')

    def read(
        self,
        rule: Rule,
        kinds: Sequence[str],  # by number, as loaded
        now: dt.datetime,
        *,
        loaded: Set[str],
        people: bool,
    ) -> Iterator[tuple[Any, ...]]:
        """(place, kind, value, error, held, person id, *key) per row, in list order, as
        loaded; only the kinds numbered in `loaded` are looked up.

        `people`: whether a person's other addresses are suppressed is looked up in the set
        of people with a suppressed address, built once with a probe per suppression, rather
        than probed for each row; the caller takes the side with fewer probes (at a million
        people and 30,000 suppressions, the set took 0.1 s where 950,000 probes took 5).
        """
        for setting, value in WHOLE_LIST_SETTINGS.items():
            self.session.execute(text(f"SET LOCAL {setting} = {value}"))
        listed = self.table
        leading = (listed.c.place, listed.c.kind, listed.c.value, listed.c.error, listed.c.held)
        parts = [
            facts_over(
                listed,
                listed.c.blind_index,
                kind,
                rule.purpose,
                rule.channel.value,
                subscriber=rule.asks_subscriber,
                people=people,
                sets=True,
                leading=leading,
            ).where(listed.c.kind_no == number, listed.c.blind_index.is_not(None))
            for number, kind in enumerate(kinds)
            if kind in loaded
        ]
        # Malformed rows: no facts, their message.
        nothing = [null()] * 9
        parts.append(
            self._plain(leading, nothing).where(listed.c.blind_index.is_(None))
            if parts
            else self._plain(leading, nothing)
        )
        statement = union_all(*parts).order_by(text("place"))
        connection = self.session.connection()
        compiled = statement.compile(dialect=connection.dialect)
        parameters = compiled.construct_params({"now": now.astimezone(dt.UTC)})
        raw: Any = connection.connection.dbapi_connection
        # A named (server-side) cursor on the driver itself: SQLAlchemy's streamed result
        # reads ahead into its own buffer and makes a Row object of every row, which cost
        # more than the row (and the garbage collector's attention) at a million rows.
        with raw.cursor(name=f"{self.name}_read") as cursor:
            cursor.execute(str(compiled), parameters)
            while batch := cursor.fetchmany(FETCH_ROWS):
                yield from batch
        self.session.execute(text(f'DROP TABLE IF EXISTS "{self.name}"'))

    def _plain(self, leading: Sequence[Any], nothing: list[Any]) -> Any:
        return select(*leading, *nothing).select_from(self.table)
