"""Rows a step found, kept encrypted in the store between steps (and machines).

Small results (the usual request) are written with the step's own completion, in the same
transaction: no extra round trip. A person with a million rows is spilled in batches as the
rows stream in, so memory stays bounded; rows of an attempt that did not finish are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Table, and_, delete, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from opendpo.connectors.base import Row
from opendpo.execution.records import StepRows, row_value

BATCH_ROWS = 1000
# Up to this many rows wait for the step's completion; beyond, batches go out as they fill.
HELD_ROWS = 5000
# Batches read back per query.
READ_BATCHES = 4


def json_ready(value: Any) -> Any:
    """JSON has no dates, decimals or bytes: keep them readable and typed by their text."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return row_value(value)


# A batch as written: the values of one StepRows row.
Batch = dict[str, Any]


def write_batches(session: Session, batches: list[Batch]) -> None:
    """Insert batches in one statement (Core: the ORM's flush costs more than the insert)."""
    if batches:
        table = StepRows.__table__
        assert isinstance(table, Table)
        session.execute(insert(table), batches)


class RowSink:
    """Collects a step attempt's rows; `pending()` are the batches not yet written."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        step_id: int,
        attempt: int,
        on_spill: Callable[[], None] | None = None,
    ) -> None:
        self._factory = session_factory
        self._step_id = step_id
        self._attempt = attempt
        self._on_spill = on_spill
        self._held: list[Batch] = []
        self._held_rows = 0
        self._open: dict[str, list[Row]] = {}
        self._seq = 0
        self.counts: dict[str, int] = {}

    def add(self, collection: str, row: Row) -> None:
        batch = self._open.setdefault(collection, [])
        batch.append(row)  # made JSON-ready as the batch is encoded (StepRows.rows)
        self.counts[collection] = self.counts.get(collection, 0) + 1
        if len(batch) >= BATCH_ROWS:
            self._close_batch(collection)

    def _close_batch(self, collection: str) -> None:
        rows = self._open.pop(collection, [])
        if not rows:
            return
        self._seq += 1
        self._held.append(
            {
                "step_id": self._step_id,
                "attempt": self._attempt,
                "seq": self._seq,
                "collection": collection,
                "rows": rows,
            }
        )
        self._held_rows += len(rows)
        if self._held_rows > HELD_ROWS:
            with self._factory() as session:
                write_batches(session, self._held)
                session.commit()
            self._held = []
            self._held_rows = 0
            if self._on_spill is not None:
                self._on_spill()

    def pending(self) -> list[Batch]:
        """The batches still to be written: add them to the step's completing transaction."""
        for collection in list(self._open):
            self._close_batch(collection)
        held, self._held, self._held_rows = self._held, [], 0
        return held


def discard_other_attempts(*, session: Session, step_id: int, attempt: int) -> None:
    session.execute(
        delete(StepRows).where(StepRows.step_id == step_id, StepRows.attempt != attempt)
    )


def read_rows(
    *, session_factory: sessionmaker[Session], step_id: int, attempt: int, collection: str
) -> Iterator[Row]:
    """The rows a finished step found in one collection, a few batches at a time."""
    after = 0
    while True:
        # Each read is short and holds at most READ_BATCHES batches: a person's handful of
        # rows comes back in one round trip, a million rows in bounded memory.
        with session_factory() as session:
            batches = session.execute(
                select(StepRows.seq, StepRows.rows)
                .where(
                    StepRows.step_id == step_id,
                    StepRows.attempt == attempt,
                    StepRows.collection == collection,
                    StepRows.seq > after,
                )
                .order_by(StepRows.seq)
                .limit(READ_BATCHES)
            ).all()
        for seq, rows in batches:
            after = seq
            yield from rows
        if len(batches) < READ_BATCHES:
            return


class FoundRows:
    """Reads back the rows of finished find steps: a request's usual handful all at once, in
    the caller's session (one round trip for every collection), a large result streamed."""

    def __init__(
        self,
        *,
        session: Session,
        session_factory: sessionmaker[Session],
        steps: Iterable[tuple[int, int, int]],  # (step id, attempt, rows it found)
    ) -> None:
        self._factory = session_factory
        chosen = list(steps)
        self._held: dict[tuple[int, int, str], list[Row]] | None = None
        if sum(rows for _, _, rows in chosen) <= HELD_ROWS:
            self._held = {}
            wanted = [and_(StepRows.step_id == s, StepRows.attempt == a) for s, a, _ in chosen]
            if wanted:
                for step_id, attempt, collection, rows in session.execute(
                    select(StepRows.step_id, StepRows.attempt, StepRows.collection, StepRows.rows)
                    .where(or_(*wanted))
                    .order_by(StepRows.step_id, StepRows.seq)
                ):
                    self._held.setdefault((step_id, attempt, collection), []).extend(rows)

    def rows(self, *, step_id: int, attempt: int, collection: str) -> Iterator[Row]:
        if self._held is not None:
            return iter(self._held.get((step_id, attempt, collection), ()))
        return read_rows(
            session_factory=self._factory, step_id=step_id, attempt=attempt, collection=collection
        )
