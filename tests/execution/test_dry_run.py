"""The dry run of an erasure on the five systems: it lists exactly what the real run then
changes, row by row and field by field, leaves every system byte for byte as it was, and
leaves the request ready to run."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from five_systems import ALICE, BOB, Estate
from running import STAFF
from sqlalchemy import create_engine, select, text

from opendpo.connectors.base import ChangeAction
from opendpo.execution import driving
from opendpo.execution import engine as execution
from opendpo.execution.dry_run import (
    DryRun,
    FieldChange,
    RowChange,
    as_json,
    dry_run,
    masked_value,
    record_dry_run,
)
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request, RequestEvent

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.redis]

SHOP_TABLES = ("customers", "orders")
SUPPORT_TABLES = ("tickets", "messages")


def logged(runtime: Runtime, kind: str = "erasure") -> str:
    """A verified request for Alice, logged and not planned; its id."""
    with runtime.session_factory() as session:
        policy = runtime.policy(session)
        request, _ = submit_request(
            session=session,
            keyring=runtime.keyring,
            policy=policy,
            kind=kind,
            identities=[("email", ALICE)],
            details={},
            channel="api",
            actor=STAFF,
            context=LetterContext(policy, runtime.links, runtime.settings.base_url),
            verified_evidence="checked by the test",
        )
        session.commit()
        return request.id


Preview = Callable[[str], DryRun]


@pytest.fixture
def previewed(runtime: Runtime) -> Iterator[Preview]:
    """Dry-run a logged request; its listing is dropped at the end of the test."""
    made: list[DryRun] = []

    def preview(request_id: str) -> DryRun:
        with runtime.session_factory() as session:
            request = session.get_one(Request, request_id)
            made.append(dry_run(runtime=runtime, session=session, request=request))
            return made[-1]

    yield preview
    for each in made:
        each.close()


def dump_sql(url: str, tables: tuple[str, ...]) -> dict[str, Any]:
    """Every row with the engine's own record of its last write (PostgreSQL's xmin, MariaDB's
    table checksum): an UPDATE to the same values still shows."""
    engine = create_engine(url)
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        for table in tables:
            if engine.dialect.name == "postgresql":
                sql = f"SELECT xmin::text, * FROM {table} ORDER BY id"
            else:
                sql = f"SELECT * FROM {table} ORDER BY id"
                checksum = connection.execute(text(f"CHECKSUM TABLE {table}")).one()
                found[f"{table} checksum"] = tuple(checksum)
            found[table] = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return found


def everything(estate: Estate) -> dict[str, Any]:
    """Each system's whole state, as bytes where the store allows."""
    client = redis.Redis.from_url(estate.redis_url)
    keys = sorted(client.scan_iter(match=f"{estate.prefix}*"))
    dumped = {key: client.dump(key) for key in keys}
    client.close()
    newsletter = Path(estate.newsletter.removeprefix("sqlite:///")).read_bytes()
    state = estate.crm.state
    with state.lock:
        crm = copy.deepcopy((state.contacts, state.notes, state.orders, state.tickets))
    return {
        "shop": dump_sql(estate.shop, SHOP_TABLES),
        "support": dump_sql(estate.support, SUPPORT_TABLES),
        "newsletter": hashlib.sha256(newsletter).hexdigest(),
        "sessions": dumped,
        "crm": crm,
    }


def rows_by_id(url: str, table: str) -> dict[Any, dict[str, Any]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(text(f"SELECT * FROM {table}"))]
    engine.dispose()
    return {row["id"]: row for row in rows}


def test_the_dry_run_lists_exactly_what_the_erasure_then_changes(
    runtime: Runtime, estate: Estate, previewed: Preview
) -> None:
    request_id = logged(runtime)
    before = everything(estate)
    shop_before = {t: rows_by_id(estate.shop, t) for t in SHOP_TABLES}
    calls = len(estate.crm.state.calls)

    preview = previewed(request_id)

    # Nothing written anywhere: every system byte for byte as it was, only reads sent.
    assert everything(estate) == before
    assert all(c.startswith("GET ") for c in estate.crm.state.calls[calls:])
    with runtime.session_factory() as session:
        assert (
            session.scalars(select(RequestStep).where(RequestStep.request_id == request_id)).all()
            == []
        )
        assert session.get_one(Request, request_id).status == "verified"

    listed = {c.collection: c for c in preview.collections}
    customers = listed["shop.customers"]
    assert customers.rows == (
        RowChange(
            {"id": 1},
            "update",
            (
                FieldChange(
                    "email",
                    "keyed_hash",
                    "user.contact.email",
                    "a****@e******.c**",
                    "a keyed hash (HMAC-SHA-256)",
                ),
                FieldChange("name", "null", "user.name", "A**** A*****", "null"),
            ),
        ),
    )
    orders = listed["shop.orders"]
    assert (orders.retention, orders.legal_reason) == (
        "contract_records",
        "Orders are accounting records, kept six years for HMRC.",
    )
    assert [(r.key, r.action, [f.path for f in r.fields]) for r in orders.rows] == [
        ({"id": 10}, "update", ["delivery_name"]),
        ({"id": 11}, "update", ["delivery_name"]),
    ]
    assert [(r.key, r.action) for r in listed["support.tickets"].rows] == [
        ({"id": 1}, "delete"), ({"id": 2}, "delete"),
    ]  # fmt: skip
    assert [(r.key, r.action) for r in listed["newsletter.subscribers"].rows] == [
        ({"email": ALICE}, "delete")
    ]
    assert sorted(r.key["id"] for r in listed["crm_api.contacts"].rows) == [1, 2, 6]
    assert BOB not in str(as_json(preview))

    # The real run: the same plan, the same changes, counted by the erase steps.
    with runtime.session_factory() as session:
        request = session.get_one(Request, request_id)
        execution.start(session=session, runtime=runtime, request=request, actor=STAFF)
        session.commit()
    steps = driving.drive(runtime, request_id)
    assert all(s.status == "done" for s in steps if s.phase in ("find", "erase"))
    erase = {s.dataset: s.summary for s in steps if s.phase == "erase"}
    assert set(erase) == set(preview.changes)
    for dataset, changes in preview.changes.items():
        counted = dict(Counter(c.collection.key for c in changes))
        assert erase[dataset]["planned"] == counted, dataset
        assert erase[dataset]["changed"] == counted, dataset
        lines = [line for c in preview.collections if c.dataset == dataset for line in c.lines]
        assert erase[dataset]["lines"] == lines, dataset

    # And the systems hold exactly what the dry run said: deleted rows gone, each listed
    # field holding the listed value, every other row and field as it was.
    for table in SHOP_TABLES:
        expected = copy.deepcopy(shop_before[table])
        for change in preview.changes["shop"]:
            if change.collection.name != table:
                continue
            if change.action is ChangeAction.DELETE:
                del expected[change.key["id"]]
            else:
                expected[change.key["id"]].update(change.values)
        assert rows_by_id(estate.shop, table) == expected, table
    gone = {(c.collection.name, c.key["id"]) for c in preview.changes["support"]}
    assert gone == {("tickets", 1), ("tickets", 2), ("messages", 1), ("messages", 2)}
    assert set(rows_by_id(estate.support, "tickets")) == {3}
    crm_gone = {(c.collection.name, c.key["id"]) for c in preview.changes["crm_api"]}
    remaining = {("contacts", i) for i in estate.crm.state.contacts} | {
        ("notes", i) for i in estate.crm.state.notes
    }
    assert crm_gone.isdisjoint(remaining)
    assert sorted(estate.crm.state.contacts) == [3, 4, 5]


def test_a_dry_run_leaves_the_request_runnable_and_says_so_on_its_timeline(
    runtime: Runtime, estate: Estate, previewed: Preview
) -> None:
    request_id = logged(runtime)
    preview = previewed(request_id)
    with runtime.session_factory() as session:
        request = session.get_one(Request, request_id)
        record_dry_run(
            session=session,
            request=request,
            preview=preview,
            actor=STAFF,
            now=dt.datetime.now(dt.UTC),
        )
        session.commit()
        event = session.scalars(
            select(RequestEvent).where(
                RequestEvent.request_id == request_id, RequestEvent.kind == "dry_run"
            )
        ).one()
        assert event.public is False
        assert event.data == preview.totals()
    # A second dry run sees the same; then the request runs as if none had happened.
    assert as_json(previewed(request_id)) == as_json(preview)
    with runtime.session_factory() as session:
        request = session.get_one(Request, request_id)
        execution.start(session=session, runtime=runtime, request=request, actor=STAFF)
        session.commit()
    steps = driving.drive(runtime, request_id)
    erased = [s for s in steps if s.phase == "erase"]
    assert erased and all(s.status == "done" for s in erased)
    assert sum(sum(s.summary["changed"].values()) for s in erased) == (
        preview.totals()["update"] + preview.totals()["delete"]
    )


def test_only_a_verified_erasure_can_be_previewed(
    runtime: Runtime, estate: Estate, previewed: Preview
) -> None:
    from opendpo.errors import InvalidValue

    request_id = logged(runtime, kind="access")
    with pytest.raises(InvalidValue, match="previews an erasure"):
        previewed(request_id)


def test_old_values_are_shown_masked() -> None:
    assert masked_value("alice@example.com") == "a****@e******.c**"
    assert masked_value("+44 7700 900123") == "+4* 7*** 9*****"
    assert masked_value(None) == "(empty)"
    assert masked_value(120.5) == "a number"
    assert masked_value(["Jane Example", "John Example"]) == "a list of 2"
    assert masked_value({"city": "Leeds"}) == "an object of 1 field"
