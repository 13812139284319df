"""The SQL connector's apply on real SQLite, PostgreSQL and MariaDB: one transaction, idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sql_connecting import SPECS, connector, crm, expected
from sql_estate import (
    CONTACTS,
    CUSTOMER_CONTACTS,
    CUSTOMERS,
    company_url,
    contacts,
    customer_contacts,
    customers,
    empty_url,
    engine_for,
    enquiries,
    rows,
    subscribers,
)
from sqlalchemy import Engine, event

from opendpo.connectors import sql_apply
from opendpo.connectors.base import (
    Change,
    ChangeAction,
    ConnectorError,
)
from opendpo.connectors.sql import SqlConnector

__all__ = ["company_url", "crm", "empty_url"]  # fixtures, used by name


# -- apply --------------------------------------------------------------------------------------


def test_update_sets_only_the_named_fields_and_is_idempotent(
    crm: SqlConnector, company_url: str
) -> None:
    spec = SPECS["contacts"]
    batch = [
        Change(spec, {"id": 1}, ChangeAction.UPDATE, {"first_name": "Redacted", "phone": None}),
        # Rectification of case only: MySQL's usual collations call these equal.
        Change(spec, {"id": 2}, ChangeAction.UPDATE, {"last_name": "SAMPLESON2"}),
        Change(spec, {"id": 99}, ChangeAction.UPDATE, {"first_name": "Nobody"}),
    ]
    assert crm.apply(batch).changed == {"company_db.contacts": 2}
    assert crm.apply(batch).changed == {"company_db.contacts": 0}
    after = {row["id"]: row for row in rows(company_url, contacts, "id")}
    assert (after[1]["first_name"], after[1]["phone"], after[1]["last_name"]) == (
        "Redacted",
        None,
        "Sampleson1",
    )
    assert after[2]["last_name"] == "SAMPLESON2"
    assert after[1]["email"] == "person1@sample.test"
    assert after[3] == CONTACTS[2]


def test_nested_fields_update_inside_the_json_value(crm: SqlConnector, company_url: str) -> None:
    spec = SPECS["customers"]
    batch = [
        Change(
            spec,
            {"id": 1},
            ChangeAction.UPDATE,
            {"billing_address.street": None, "billing_address.postcode": "XX1 1XX"},
        ),
        Change(spec, {"id": 3}, ChangeAction.UPDATE, {"billing_address.city": "Nowhere"}),
        Change(spec, {"id": 42}, ChangeAction.UPDATE, {"billing_address.city": "Gone"}),
    ]
    assert crm.apply(batch).changed == {"company_db.customers": 2}
    assert crm.apply(batch).changed == {"company_db.customers": 0}
    found = sorted(crm.find(spec, {"id": [1, 2, 3]}), key=lambda r: r["id"])
    assert [row["billing_address"] for row in found] == [
        {"street": None, "city": "Sampletown", "postcode": "XX1 1XX"},
        CUSTOMERS[1]["billing_address"],
        {"city": "Nowhere"},
    ]
    assert [row["billing_email"] for row in found] == [c["billing_email"] for c in CUSTOMERS]


def test_delete_by_key_and_rows_already_gone(crm: SqlConnector, company_url: str) -> None:
    spec = SPECS["enquiries"]
    batch = [Change(spec, {"id": i}, ChangeAction.DELETE) for i in (101, 102, 999)]
    assert crm.apply(batch).changed == {"company_db.enquiries": 2}
    assert crm.apply(batch).changed == {"company_db.enquiries": 0}
    assert [row["id"] for row in rows(company_url, enquiries, "id")] == [103]


def test_rows_without_primary_key_are_named_by_every_field(
    crm: SqlConnector, company_url: str
) -> None:
    spec = SPECS["customer_contacts"]
    read = expected(spec, CUSTOMER_CONTACTS[0])  # phone is NULL: compared with IS NULL
    update = [Change(spec, read, ChangeAction.UPDATE, {"name": "Redacted"})]
    assert crm.apply(update).changed == {"company_db.customer_contacts": 1}
    assert crm.apply(update).changed == {"company_db.customer_contacts": 0}
    delete = [Change(spec, {**read, "name": "Redacted"}, ChangeAction.DELETE)]
    assert crm.apply(delete).changed == {"company_db.customer_contacts": 1}
    left = rows(company_url, customer_contacts, "email")
    assert left == [CUSTOMER_CONTACTS[1], CUSTOMER_CONTACTS[2]]


def test_children_first_in_one_transaction(crm: SqlConnector, company_url: str) -> None:
    batch = [
        Change(SPECS["enquiries"], {"id": 101}, ChangeAction.DELETE),
        Change(SPECS["enquiries"], {"id": 102}, ChangeAction.DELETE),
        Change(SPECS["contacts"], {"id": 1}, ChangeAction.DELETE),
        Change(SPECS["subscribers"], {"email": "person1@sample.test"}, ChangeAction.DELETE),
    ]
    assert crm.apply(batch).changed == {
        "company_db.enquiries": 2,
        "company_db.contacts": 1,
        "company_db.subscribers": 1,
    }
    assert [row["id"] for row in rows(company_url, contacts, "id")] == list(range(2, 11))
    assert [row["email"] for row in rows(company_url, subscribers, "email")] == [
        "person3@sample.test"
    ]


def test_a_failing_change_rolls_the_whole_batch_back(crm: SqlConnector, company_url: str) -> None:
    before = [
        rows(company_url, table, *order)
        for table, order in ((contacts, ("id",)), (enquiries, ("id",)), (customers, ("id",)))
    ]
    batch = [
        Change(SPECS["contacts"], {"id": 3}, ChangeAction.UPDATE, {"first_name": "Changed"}),
        Change(SPECS["customers"], {"id": 1}, ChangeAction.UPDATE, {"billing_address.city": "X"}),
        Change(SPECS["enquiries"], {"id": 103}, ChangeAction.DELETE),
        # Contact 1 still has enquiries: the foreign key refuses, and nothing above stays.
        Change(SPECS["contacts"], {"id": 1}, ChangeAction.DELETE),
    ]
    with pytest.raises(ConnectorError) as caught:
        crm.apply(batch)
    assert caught.value.retryable is False
    assert "constraint" in caught.value.message or "FOREIGN KEY" in caught.value.message
    assert "person1@sample.test" not in caught.value.message
    after = [
        rows(company_url, table, *order)
        for table, order in ((contacts, ("id",)), (enquiries, ("id",)), (customers, ("id",)))
    ]
    assert after == before


class Stopped(Exception):
    """What the engine raises between batches when the step lost its lease."""


def test_batches_go_in_one_transaction_that_a_stop_between_them_rolls_back(
    crm: SqlConnector, company_url: str
) -> None:
    before = [rows(company_url, contacts, "id"), rows(company_url, enquiries, "id")]
    first = [Change(SPECS["enquiries"], {"id": i}, ChangeAction.DELETE) for i in (101, 102)]
    second = [Change(SPECS["contacts"], {"id": 3}, ChangeAction.UPDATE, {"first_name": "X"})]

    def stopping() -> Iterator[list[Change]]:
        yield first
        yield second
        raise Stopped  # after two batches were sent: neither may stay

    with pytest.raises(Stopped):
        crm.apply_batches(stopping())
    assert [rows(company_url, contacts, "id"), rows(company_url, enquiries, "id")] == before

    applied = crm.apply_batches(iter([first, [], second]))
    assert applied.changed == {"company_db.enquiries": 2, "company_db.contacts": 1}
    assert [row["id"] for row in rows(company_url, enquiries, "id")] == [103]
    assert crm.apply_batches(iter([first, second])).changed == {
        "company_db.enquiries": 0, "company_db.contacts": 0,
    }  # fmt: skip


def test_a_value_the_column_cannot_hold_stops_the_batch(
    crm: SqlConnector, company_url: str
) -> None:
    batch = [
        Change(SPECS["contacts"], {"id": 2}, ChangeAction.UPDATE, {"first_name": "Changed"}),
        Change(SPECS["contacts"], {"id": 3}, ChangeAction.UPDATE, {"organisation_id": "n/a"}),
    ]
    with pytest.raises(ConnectorError) as caught:
        crm.apply(batch)
    assert caught.value.message.startswith(
        "crm: 'company_db.contacts.organisation_id': the new value cannot be stored in a "
    )
    assert caught.value.retryable is False
    assert rows(company_url, contacts, "id")[1]["first_name"] == CONTACTS[1]["first_name"]


def test_changes_go_in_as_few_statements_as_their_values_allow(
    crm: SqlConnector, company_url: str
) -> None:
    statements: list[tuple[str, bool]] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "DELETE")):
            statements.append((statement.split()[0].upper(), many))

    spec = SPECS["contacts"]
    batch = [
        # The same value for every row: one UPDATE naming the rows as a set.
        *(Change(spec, {"id": i}, ChangeAction.UPDATE, {"first_name": "X"}) for i in range(1, 9)),
        # A value of its own for each row (a hash, say): one statement, many parameter sets.
        *(Change(spec, {"id": i}, ChangeAction.UPDATE, {"last_name": f"L{i}"}) for i in (1, 2)),
        *(Change(SPECS["enquiries"], {"id": i}, ChangeAction.DELETE) for i in (101, 102, 103)),
    ]
    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert crm.apply(batch).changed == {"company_db.contacts": 10, "company_db.enquiries": 3}
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert statements == [("UPDATE", False), ("UPDATE", True), ("DELETE", False)]
    stored = {row["id"]: row for row in rows(company_url, contacts, "id")}
    assert {i: stored[i]["first_name"] for i in range(1, 10)} == {
        **dict.fromkeys(range(1, 9), "X"),
        9: CONTACTS[8]["first_name"],
    }
    assert [stored[i]["last_name"] for i in (1, 2, 3)] == ["L1", "L2", CONTACTS[2]["last_name"]]
    assert crm.apply(batch).changed == {"company_db.contacts": 0, "company_db.enquiries": 0}


def test_rows_named_as_a_set_go_in_chunks(
    crm: SqlConnector, company_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_apply, "SET_KEYS", 3)
    spec = SPECS["contacts"]
    batch = [Change(spec, {"id": i}, ChangeAction.UPDATE, {"first_name": "Y"}) for i in range(1, 8)]
    batch += [Change(spec, {"id": 3}, ChangeAction.UPDATE, {"first_name": "Y"})]  # twice
    assert crm.apply(batch).changed == {"company_db.contacts": 7}
    names = [row["first_name"] for row in rows(company_url, contacts, "id")]
    assert names[:8] == ["Y"] * 7 + [CONTACTS[7]["first_name"]]


def test_concurrent_applies_each_commit(crm: SqlConnector, company_url: str) -> None:
    spec = SPECS["contacts"]

    def rename(i: int) -> int:
        change = Change(
            spec, {"id": i}, ChangeAction.UPDATE, {"job_title": None, "last_name": f"L{i}"}
        )
        return crm.apply([change]).total

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(rename, range(1, 11))) == [1] * 10
    assert [row["last_name"] for row in rows(company_url, contacts, "id")] == [
        f"L{i}" for i in range(1, 11)
    ]


def test_a_held_lock_times_out_as_retryable(company_url: str) -> None:
    """Another writer holds contact 1; a statement (or lock) timeout asks to retry later."""
    if company_url.startswith("sqlite"):
        found = connector(company_url, connect_timeout_seconds=1)
    else:
        found = connector(company_url, statement_timeout_seconds=1)
    holder = engine_for(company_url)
    change = Change(SPECS["contacts"], {"id": 1}, ChangeAction.UPDATE, {"first_name": "Later"})
    try:
        with holder.begin() as connection:
            connection.execute(
                contacts.update().where(contacts.c.id == 1).values(first_name="Holding")
            )
            with pytest.raises(ConnectorError) as caught:
                found.apply([change])
        assert caught.value.retryable is True
        assert caught.value.message.startswith("crm: writing: ")
        # Once the lock is gone the same batch goes through.
        assert found.apply([change]).total == 1
    finally:
        found.close()
        holder.dispose()
