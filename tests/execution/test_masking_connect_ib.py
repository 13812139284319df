"""Connect IB's erasure: the order of deletes, what it keeps, and Jane Example erased from the
demo estate on every engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from masking_estate import build, erase_jane, snapshot
from masking_specs import connect_ib, connect_ib_collections, fides_dataset

from opendpo.demo.estate import default_estate_urls
from opendpo.demo.jane import VISITOR_ID
from opendpo.demo.schema import DATASETS
from opendpo.execution.masking import (
    decide,
    deletion_order,
    ordered_for_deletion,
    referenced_fields,
)

# --- the order of deletes -----------------------------------------------------------------------


def test_connect_ib_deletes_children_before_their_parents() -> None:
    order = ordered_for_deletion(connect_ib_collections())
    assert [c.key for c in order.collections] == [
        "crm_db.credit_checks",
        "crm_db.enquiries",
        "crm_db.quotes",
        "crm_db.contacts",
        "crm_db.organisations",
        "billing_db.customer_contacts",
        "billing_db.deliveries",
        "billing_db.payments",
        "billing_db.invoices",
        "billing_db.customers",
        "email_platform.subscribers",
        "email_platform.suppressions",
        "website_db.form_submissions",
        "website_db.visits",
    ]
    assert order.cycles == []
    assert deletion_order(connect_ib_collections()) == order.collections


LOOPS = """
fides_key: app_db
collections:
  - name: accounts
    fields:
      - name: id
        fides_meta: {primary_key: true}
      - name: owner_id
        fides_meta:
          references: [{dataset: app_db, field: users.id}]
  - name: users
    fides_meta: {erase_after: [app_db.tokens]}
    fields:
      - name: id
        fides_meta: {primary_key: true}
      - name: account_id
        fides_meta:
          references: [{dataset: app_db, field: accounts.id}]
      - name: manager_id
        fides_meta:
          references: [{dataset: app_db, field: users.id}]
  - name: orders
    fields:
      # Declared on the parent's side: orders_archive.order_id holds the foreign key.
      - name: id
        fides_meta:
          primary_key: true
          references: [{dataset: app_db, field: orders_archive.order_id, direction: from}]
      - name: user_id
  - name: orders_archive
    fields:
      - name: order_id
  - name: tokens
    fields:
      - name: value
"""


def test_loops_are_cut_at_their_first_collection_and_reported() -> None:
    specs = fides_dataset(LOOPS)
    order = ordered_for_deletion(specs)
    # accounts and users reference each other; users' own manager_id orders rows only.
    assert [c.key for c in order.collections] == [
        "app_db.orders_archive",
        "app_db.orders",
        "app_db.tokens",  # erase_after: before users
        "app_db.accounts",
        "app_db.users",
    ]
    assert order.cycles == [
        "app_db.accounts is deleted before app_db.users, although it references "
        "app_db.accounts: their references form a loop, so no order deletes every child "
        "first; the system must allow it (a nullable or deferred foreign key) or the delete "
        "fails"
    ]
    # Given the other way round, the loop is cut at users instead.
    reversed_order = ordered_for_deletion(list(reversed(specs)))
    assert [c.key for c in reversed_order.collections] == [
        "app_db.tokens",
        "app_db.orders_archive",
        "app_db.orders",
        "app_db.users",
        "app_db.accounts",
    ]
    assert reversed_order.cycles[0].startswith(
        "app_db.users is deleted before app_db.accounts, although it references app_db.users"
    )


# --- Connect IB -----------------------------------------------------------------------------------


def test_connect_ib_keeps_what_the_law_needs_and_deletes_the_rest() -> None:
    specs = connect_ib_collections()
    referenced = referenced_fields(specs)
    decisions = {
        spec.key: decide(
            spec, erasure=connect_ib().erasure, referenced=referenced.get(spec.key, frozenset())
        )
        for spec in specs
    }
    assert sorted(key for key, d in decisions.items() if d.delete) == [
        "billing_db.customer_contacts",
        "crm_db.contacts",
        "crm_db.enquiries",
        "crm_db.quotes",
        "email_platform.subscribers",
        "website_db.form_submissions",
        "website_db.visits",
    ]
    kept = {
        key: (d.exemption.retention if d.exemption else None, [f.field.path for f in d.masked])
        for key, d in decisions.items()
        if not d.delete
    }
    assert kept == {
        "crm_db.organisations": ("contract_records", []),
        "crm_db.credit_checks": ("credit_checks", ["officers"]),
        "billing_db.customers": ("invoices", ["billing_email"]),
        "billing_db.invoices": ("invoices", []),
        "billing_db.payments": ("invoices", []),
        "billing_db.deliveries": ("invoices", ["contact_name", "phone"]),
        "email_platform.suppressions": ("marketing_withdrawn", []),
    }


ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("estate_postgres_url", marks=pytest.mark.postgres, id="postgresql"),
    # MariaDB reflects JSON columns as LONGTEXT: officers are written as JSON text.
    pytest.param("estate_mariadb_url", marks=pytest.mark.mariadb, id="mariadb"),
]


@pytest.fixture(params=ENGINES)
def estate_urls(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return default_estate_urls(tmp_path)
    url: str = request.getfixturevalue(request.param)
    return dict.fromkeys(DATASETS, url)


def test_erasing_jane_from_the_demo_estate(estate_urls: dict[str, str]) -> None:
    build(estate_urls)
    before = snapshot(estate_urls)

    assert erase_jane(estate_urls) == {
        "crm_db.credit_checks": 1,
        "crm_db.enquiries": 2,
        "crm_db.quotes": 1,
        "crm_db.contacts": 1,
        "billing_db.customer_contacts": 1,
        "billing_db.deliveries": 1,
        "billing_db.customers": 1,
        "email_platform.subscribers": 1,
        "website_db.form_submissions": 1,
        "website_db.visits": 4,
    }

    expected = {table: [dict(row) for row in rows] for table, rows in before.items()}

    def drop(table: str, **match: Any) -> None:
        rows = expected[table]
        gone = [r for r in rows if all(r[k] == v for k, v in match.items())]
        assert gone, (table, match)
        expected[table] = [r for r in rows if r not in gone]

    def change(table: str, key: int, **values: Any) -> None:
        row = next(r for r in expected[table] if r["id"] == key)
        row.update(values)

    drop("crm_db.contacts", id=1)
    drop("crm_db.enquiries", contact_id=1)
    drop("crm_db.quotes", contact_id=1)
    change("crm_db.credit_checks", 1, officers=[])
    drop("billing_db.customer_contacts", email="jane@example.com")
    change("billing_db.customers", 1, billing_email=None)
    change("billing_db.deliveries", 1, contact_name=None, phone=None)
    drop("email_platform.subscribers", email="jane@example.com")
    drop("website_db.form_submissions", id=1)
    drop("website_db.visits", visitor_id=VISITOR_ID)
    after = snapshot(estate_urls)
    assert after == expected
    # Kept for HMRC, exactly as they were.
    assert after["billing_db.invoices"] == before["billing_db.invoices"]
    assert after["billing_db.payments"] == before["billing_db.payments"]

    # A step retried after a crash finds everything already done.
    assert set(erase_jane(estate_urls).values()) == {0}
    assert snapshot(estate_urls) == expected
