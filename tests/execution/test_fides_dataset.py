"""A dataset written for Fides runs unchanged on real PostgreSQL: the file in fides/ is copied
byte for byte into the policy (and given as is to `opendpo systems add --dataset`), then an
access request and an erasure for Alice, by email, find exactly her rows in every collection,
those reached only through references included, and leave exactly the state expected; Bob,
Dan and Carol's rows are untouched except where a row is Alice's too."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fides_estate import ALICE, BOB, DATASET_FILE, rows, seed, write_policy
from running import Run, apply, data_json, rows_of

from opendpo.execution.records import RequestStep
from opendpo.execution.rowstore import read_rows
from opendpo.execution.runtime import Runtime

pytestmark = pytest.mark.postgres

SHOP = "postgres_example"


@pytest.fixture
def shop(runtime: Runtime, tmp_path: Path, estate_postgres_url: str) -> str:
    """The shop seeded on PostgreSQL, and the policy holding the Fides file applied."""
    seed(estate_postgres_url)
    apply(
        runtime,
        write_policy(tmp_path / "policy"),
        {"shop": {"type": "sql", "url": estate_postgres_url}},
    )
    return estate_postgres_url


def found(runtime: Runtime, step: RequestStep, collection: str) -> list[dict[str, Any]]:
    """Every row the find step read from the collection, by id (else by content)."""
    return sorted(
        read_rows(
            session_factory=runtime.session_factory,
            step_id=step.id,
            attempt=step.summary["attempt"],
            collection=f"{SHOP}.{collection}",
        ),
        key=lambda row: (str(row.get("id")), json.dumps(row, sort_keys=True, default=str)),
    )


def test_access_finds_exactly_alices_rows_in_every_collection(
    runtime: Runtime, shop: str, run_request: Run
) -> None:
    request, steps = run_request("access", ("email", ALICE))
    assert request.status == "completed"
    assert [(s.phase, s.dataset, s.status) for s in steps] == [
        ("find", SHOP, "done"),
        ("package", None, "done"),
    ]
    find = steps[0]
    # archived_customer holds Alice too, but the dataset says skip_processing.
    assert find.summary["rows"] == {
        f"{SHOP}.customer": 1, f"{SHOP}.employee": 1, f"{SHOP}.report": 1,
        f"{SHOP}.service_request": 3, f"{SHOP}.login": 2, f"{SHOP}.orders": 2,
        f"{SHOP}.payment_card": 1, f"{SHOP}.visit": 1, f"{SHOP}.address": 2,
        f"{SHOP}.order_item": 3, f"{SHOP}.product": 3,
    }  # fmt: skip

    # Reached only through references: cards and logins via the customer id, order items via
    # her orders, products via the items, addresses via customer, orders and card, and the
    # request she handled as employee 1 (sr_2).
    assert [r["id"] for r in found(runtime, find, "payment_card")] == ["pay_1"]
    assert [(r["id"], r["customer_id"]) for r in found(runtime, find, "login")] == [(1, 1), (2, 1)]
    assert found(runtime, find, "order_item") == [
        {"order_id": "ord_1001", "product_id": 1, "quantity": 2},
        {"order_id": "ord_1001", "product_id": 2, "quantity": 1},
        {"order_id": "ord_1002", "product_id": 3, "quantity": 5},
    ]
    assert [r["name"] for r in found(runtime, find, "product")] == [
        "Widget", "Gadget", "Doohickey",
    ]  # fmt: skip
    assert [r["id"] for r in found(runtime, find, "address")] == [1, 3]
    assert sorted(r["id"] for r in found(runtime, find, "service_request")) == [
        "sr_1", "sr_2", "sr_3",
    ]  # fmt: skip
    assert found(runtime, find, "archived_customer") == []

    data = data_json(runtime, request.id)
    assert rows_of(data, "shop", "customer") == [
        {"id": 1, "address_id": 1, "email": ALICE, "name": "Alice Archer",
         "profile": {"phone": "+44 20 7946 0001"}},
    ]  # fmt: skip
    assert rows_of(data, "shop", "address") == [
        {"id": 1, "city": "Luton", "house": 12, "state": "Bedfordshire",
         "street": "Acacia Avenue", "zip": "LU1 1AA"},
        {"id": 3, "city": "Leeds", "house": 1, "state": "West Yorkshire",
         "street": "Canal Wharf", "zip": "LS11 5PS"},
    ]  # fmt: skip
    assert rows_of(data, "shop", "employee") == [
        {"id": 1, "address_id": 1, "email": ALICE, "name": "Alice Archer"}
    ]
    assert rows_of(data, "shop", "login") == [
        {"customer_id": 1, "time": "2026-01-05T09:00:00"},
        {"customer_id": 1, "time": "2026-01-06T18:30:00"},
    ]
    assert rows_of(data, "shop", "orders") == [
        {"customer_id": 1, "shipping_address_id": 3},
        {"customer_id": 1, "shipping_address_id": 1},
    ]
    assert rows_of(data, "shop", "payment_card") == [
        {"billing_address_id": 1, "ccn": 4111111111111111, "code": 123, "customer_id": 1,
         "name": "Alice Archer", "preferred": True},
    ]  # fmt: skip
    assert rows_of(data, "shop", "report") == [{"email": ALICE}]
    assert rows_of(data, "shop", "service_request") == [
        {"alt_email": "alice.archer@example.org", "employee_id": 2},
        {"alt_email": None, "employee_id": 1},
        {"alt_email": ALICE, "employee_id": 2},
    ]
    assert rows_of(data, "shop", "visit") == [{"email": ALICE}]
    # Items and products say nothing about her: found (to reach on), not packaged.
    collections = data["systems"]["shop"]["collections"]
    assert sorted(collections) == [
        "address", "customer", "employee", "login", "orders", "payment_card", "report",
        "service_request", "visit",
    ]  # fmt: skip
    assert BOB not in json.dumps(data) and "Bob" not in json.dumps(data)


def keyed_hash(runtime: Runtime, value: str) -> str:
    key = runtime.keyring.derived_key("erasure")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_erasure_leaves_exactly_the_state_the_fides_dataset_asks_for(
    runtime: Runtime, shop: str, run_request: Run
) -> None:
    request, steps = run_request("erasure", ("email", ALICE))
    assert request.status == "completed"
    assert [s.status for s in steps] == ["done"] * len(steps)

    # street: the dataset's random_string_rewrite of length 5; the rest of the address null.
    addresses = rows(shop, "SELECT id, house, street, city, state, zip FROM address ORDER BY id")
    assert [(a[0], a[1], a[3], a[4], a[5]) for a in addresses] == [
        (1, None, None, None, None),
        (2, 7, "London", "Greater London", "NW1 6XE"),
        (3, None, None, None, None),
        (4, 3, "Hull", "East Yorkshire", "HU1 2AA"),
    ]
    streets = [a[2] for a in addresses]
    assert streets[1] == "Baker Street" and streets[3] == "Dock Road"
    assert all(isinstance(s, str) and len(s) == 5 for s in (streets[0], streets[2]))
    assert streets[0] != streets[2]

    # name: the dataset's hmac, cut to its declared length 40 (the column is varchar(40));
    # inside the profile document only the phone is personal.
    assert rows(shop, "SELECT id, email, name, address_id, profile FROM customer ORDER BY id") == [
        (1, None, keyed_hash(runtime, "Alice Archer")[:40], 1, {"phone": None, "newsletter": True}),
        (2, BOB, "Bob Baker", 2, {"phone": "+44 20 7946 0002", "newsletter": False}),
    ]
    assert rows(shop, "SELECT * FROM archived_customer") == [(1, ALICE, "Alice Archer")]
    assert rows(shop, "SELECT id, email, name, address_id FROM employee ORDER BY id") == [
        (1, None, None, 1),
        (2, "dan@example.com", "Dan Driver", None),
    ]
    assert rows(shop, "SELECT id, customer_id, time IS NULL FROM login ORDER BY id") == [
        (1, 1, True), (2, 1, True), (3, 2, False),
    ]  # fmt: skip
    assert rows(shop, "SELECT id, customer_id, shipping_address_id FROM orders ORDER BY id") == [
        ("ord_1001", 1, 3), ("ord_1002", 1, 1), ("ord_1003", 2, 2),
    ]  # fmt: skip
    assert len(rows(shop, "SELECT * FROM order_item")) == 4
    assert len(rows(shop, "SELECT * FROM product")) == 3
    # The collection's masking_strategy_override: delete.
    assert rows(shop, "SELECT id, name FROM payment_card ORDER BY id") == [("pay_2", "Bob Baker")]
    assert rows(shop, "SELECT id, email, total_visits FROM report ORDER BY id") == [
        (1, None, 12), (2, BOB, 3),
    ]  # fmt: skip
    # alt_email: the dataset's string_rewrite; `email` is system.operations in the dataset,
    # so the erasure does not cover it.
    assert rows(
        shop, "SELECT id, email, alt_email, employee_id FROM service_request ORDER BY id"
    ) == [
        ("sr_1", ALICE, "MASKED", 2),
        ("sr_2", "carol@example.com", None, 1),
        ("sr_3", "carol@example.com", "MASKED", 2),
        ("sr_4", BOB, None, 2),
    ]
    assert rows(shop, "SELECT email, last_visit IS NULL FROM visit ORDER BY email") == [
        (BOB, False), (None, False),
    ]  # fmt: skip

    (erase,) = [s for s in steps if s.phase == "erase"]
    assert erase.summary["changed"] == {
        f"{SHOP}.address": 2, f"{SHOP}.customer": 1, f"{SHOP}.employee": 1, f"{SHOP}.login": 2,
        f"{SHOP}.payment_card": 1, f"{SHOP}.report": 1, f"{SHOP}.service_request": 2,
        f"{SHOP}.visit": 1,
    }  # fmt: skip
    lines = erase.summary["lines"]
    assert (
        f"{SHOP}.payment_card: 1 row deleted: the dataset's masking_strategy_override deletes them"
        in lines
    )
    assert (
        "  name: keyed_hash in 1 of 1 row (the dataset's masking_strategy_override (hmac))" in lines
    )


CliRun = Callable[..., Result]


def test_systems_add_takes_the_fides_file_as_it_is(
    run: CliRun, tmp_path: Path, estate_postgres_url: str
) -> None:
    seed(estate_postgres_url)
    assert run("db", "upgrade").exit_code == 0
    policy = write_policy(tmp_path / "policy", with_dataset=False)
    applied = run("policy", "apply", str(policy), "--by", "test")
    assert applied.exit_code == 0, applied.output

    added = run(
        "systems", "add", "shop", "--url", estate_postgres_url, "--dataset", str(DATASET_FILE)
    )
    assert added.exit_code == 0, added.output
    assert "shop: connection saved (encrypted); datasets: postgres_example" in added.stdout
    # What the file asks that OpenDPO will not do is said, with the line that asks it.
    assert (
        "postgres_example.yml:32:9: warning: collection 'postgres_example.archived_customer' "
        "holds personal data but skip_processing is set" in added.stderr
    )

    out = tmp_path / "out"
    submitted = run(
        "requests", "submit", "--kind", "access", "--identity", f"email={ALICE}",
        "--verified", "--how", "passport seen", "--wait", "--output", str(out),
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    (package,) = out.glob("*.zip")
    with zipfile.ZipFile(package) as archive:
        data = json.loads(archive.read("data.json"))
    collections = data["systems"]["shop"]["collections"]
    assert collections["payment_card"]["rows"][0]["ccn"] == 4111111111111111
    assert [r["alt_email"] for r in collections["service_request"]["rows"]] == [
        "alice.archer@example.org", None, ALICE,
    ]  # fmt: skip
    assert BOB not in json.dumps(data)


def test_systems_add_refuses_a_dataset_with_mistakes(run: CliRun, tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    policy = write_policy(tmp_path / "policy", with_dataset=False)
    assert run("policy", "apply", str(policy), "--by", "test").exit_code == 0
    text = DATASET_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("identity: email", "identiy: email", 1), encoding="utf-8")

    refused = run(
        "systems", "add", "shop", "--url", "sqlite://", "--no-check", "--dataset", str(broken)
    )
    assert refused.exit_code == 1
    assert "not saved: the dataset has problems" in refused.output
    assert (
        "broken.yml:39:15: unknown key 'identiy' in "
        "dataset[0].collections[1].fields[0].fides_meta (did you mean 'identity'?)"
    ) in refused.output
    assert "connection saved" not in run("systems", "list").stdout
