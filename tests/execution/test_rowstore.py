"""The row store on SQLite and PostgreSQL: a step's rows come back per collection, in the order
found, from the finishing attempt only, a few batches per read."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from package_requests import make_request
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from opendpo.execution.records import RequestStep
from opendpo.execution.rowstore import (
    BATCH_ROWS,
    HELD_ROWS,
    READ_BATCHES,
    FoundRows,
    RowSink,
    read_rows,
    write_batches,
)
from opendpo.store.engine import make_session_factory


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def step_id(engine: Engine, factory: sessionmaker[Session]) -> int:
    request_id, _ = make_request(engine)
    with factory() as session, session.begin():
        step = RequestStep(
            request_id=request_id, seq=1, phase="find", status="running", depends_on=[],
            attempts=2, summary={},
        )  # fmt: skip
        session.add(step)
    return step.id


def fill(
    factory: sessionmaker[Session], step_id: int, attempt: int, counts: dict[str, int]
) -> None:
    """Rows added to each collection in turn, as a find step adds them; spilled and pending
    batches both written, as the step's completion writes them."""
    sink = RowSink(session_factory=factory, step_id=step_id, attempt=attempt)
    for n in range(max(counts.values())):
        for collection, count in counts.items():
            if n < count:
                sink.add(collection, {"n": n, "attempt": attempt})
    with factory() as session, session.begin():
        write_batches(session, sink.pending())


def test_rows_come_back_per_collection_in_order(
    engine: Engine, factory: sessionmaker[Session], step_id: int
) -> None:
    many = (2 * READ_BATCHES + 1) * BATCH_ROWS + 7  # over two full reads
    fill(factory, step_id, 1, {"shop.orders": 30, "web.logins": 40})  # an earlier attempt
    fill(
        factory,
        step_id,
        2,
        {"shop.orders": many, "web.logins": 3, "shop.items": READ_BATCHES * BATCH_ROWS},
    )
    reads: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: reads.append(a[2]) if a[2].lstrip().upper().startswith("SELECT") else None,
    )

    def back(collection: str) -> list[int]:
        reads.clear()
        rows = list(
            read_rows(session_factory=factory, step_id=step_id, attempt=2, collection=collection)
        )
        assert {row["attempt"] for row in rows} <= {2}
        return [row["n"] for row in rows]

    assert back("shop.orders") == list(range(many))
    assert len(reads) == 3  # 10 batches, 4 a read
    assert back("web.logins") == [0, 1, 2]
    assert len(reads) == 1  # a person's few rows: one read
    assert back("shop.items") == list(range(READ_BATCHES * BATCH_ROWS))
    assert len(reads) == 2  # a full read, then one that finds nothing more
    assert back("support.tickets") == []


def test_a_requests_few_rows_are_read_back_in_one_query(
    engine: Engine, factory: sessionmaker[Session], step_id: int
) -> None:
    fill(factory, step_id, 1, {"shop.orders": 30})  # an earlier attempt, not read
    fill(factory, step_id, 2, {"shop.orders": 3, "web.logins": 2, "shop.items": 1})
    reads: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: reads.append(a[2]) if a[2].lstrip().upper().startswith("SELECT") else None,
    )
    with factory() as session:
        found = FoundRows(session=session, session_factory=factory, steps=[(step_id, 2, 6)])
        back = {
            c: [r["n"] for r in found.rows(step_id=step_id, attempt=2, collection=c)]
            for c in ("shop.orders", "web.logins", "shop.items", "support.tickets")
        }
    assert back == {"shop.orders": [0, 1, 2], "web.logins": [0, 1], "shop.items": [0],
                    "support.tickets": []}  # fmt: skip
    assert len(reads) == 1  # every collection of the request at once


def test_many_rows_are_streamed_per_collection(
    engine: Engine, factory: sessionmaker[Session], step_id: int
) -> None:
    many = HELD_ROWS + 1
    fill(factory, step_id, 2, {"shop.orders": many, "web.logins": 2})
    reads: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: reads.append(a[2]) if a[2].lstrip().upper().startswith("SELECT") else None,
    )
    with factory() as session:
        found = FoundRows(session=session, session_factory=factory, steps=[(step_id, 2, many + 2)])
        assert reads == []  # too many to hold: nothing is read ahead
        orders = found.rows(step_id=step_id, attempt=2, collection="shop.orders")
        assert [r["n"] for r in orders] == list(range(many))
        assert len(reads) == 2  # six batches, four a read
        assert len(list(found.rows(step_id=step_id, attempt=2, collection="web.logins"))) == 2


def test_values_json_lacks_come_back_as_their_text(
    engine: Engine, factory: sessionmaker[Session], step_id: int
) -> None:
    found = {
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        "on": dt.date(2026, 1, 2),
        "amount": Decimal("10.50"),
        "key": uuid.UUID(int=5),
        "photo": b"\x00\xff",
        "big": 2**70,  # beyond orjson: the batch goes through json instead
        "tags": ("a", "b"),
        "score": float("nan"),
    }
    sink = RowSink(session_factory=factory, step_id=step_id, attempt=1)
    sink.add("shop.customers", found)
    sink.add("shop.customers", {"n": 1, "score": float("inf")})  # the same batch: json
    sink.add("web.logins", {"n": 1, "score": float("inf")})  # a batch of its own: orjson
    with factory() as session, session.begin():
        write_batches(session, sink.pending())
    [first, second] = list(
        read_rows(session_factory=factory, step_id=step_id, attempt=1, collection="shop.customers")
    )
    [alone] = list(
        read_rows(session_factory=factory, step_id=step_id, attempt=1, collection="web.logins")
    )
    assert alone == second
    assert first["at"] == "2026-01-02T03:04:05.000006+00:00"
    assert (first["on"], first["amount"], first["photo"]) == ("2026-01-02", "10.50", "00ff")
    assert (first["key"], first["big"], first["tags"]) == (str(uuid.UUID(int=5)), 2**70, ["a", "b"])
    # JSON has no NaN or infinity: null, whichever encoder wrote the batch.
    assert first["score"] is None
    assert second == {"n": 1, "score": None}
