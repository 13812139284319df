"""`opendpo requests submit --kind erasure --dry-run` and `opendpo requests dry-run`: the
listing a DPO reads before erasing, the JSON written beside it, and the shop untouched until
`opendpo requests run`."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from five_systems import ALICE, BOB, seed_shop, write_policy

Run = Callable[..., Result]


@pytest.fixture
def shop(run: Run, tmp_path: Path) -> Path:
    """The store upgraded, the shop-only policy applied, the shop seeded and connected."""
    path = tmp_path / "shop.db"
    seed_shop(f"sqlite:///{path}")
    assert run("db", "upgrade").exit_code == 0
    applied = run("policy", "apply", str(write_policy(tmp_path, only=("shop",))), "--by", "test")
    assert applied.exit_code == 0, applied.output
    added = run("systems", "add", "shop", "--url", f"sqlite:///{path}")
    assert added.exit_code == 0, added.output
    return path


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_submit_dry_run_lists_the_changes_and_run_then_makes_them(
    run: Run, shop: Path, tmp_path: Path
) -> None:
    before = digest(shop)
    listing = tmp_path / "dry-run.json"
    previewed = ok(
        run(
            "requests", "submit", "--kind", "erasure", "--identity", f"email={ALICE}",
            "--verified", "--how", "signed letter", "--dry-run", "--output", str(listing),
        )
    )  # fmt: skip
    out = previewed.stdout
    assert "mask (null)" in out and "A**** A*****" in out
    assert "Orders are accounting records" in out
    assert "0 row(s) would be deleted, 3 masked, 0 kept as they are" in out
    assert digest(shop) == before
    reference = next(line for line in out.splitlines() if "request logged" in line).split()[0]

    document = json.loads(listing.read_text(encoding="utf-8"))
    assert document["request"] == reference
    collections = document["systems"]["shop"]["collections"]
    assert collections["shop.customers"]["rows"] == [
        {
            "key": {"id": 1},
            "action": "update",
            "fields": [
                {"field": "email", "strategy": "keyed_hash", "category": "user.contact.email",
                 "old": "a****@e******.c**", "new": "a keyed hash (HMAC-SHA-256)"},
                {"field": "name", "strategy": "null", "category": "user.name",
                 "old": "A**** A*****", "new": "null"},
            ],
        }
    ]  # fmt: skip
    orders = collections["shop.orders"]
    assert orders["retention"] == "contract_records"
    assert [r["key"] for r in orders["rows"]] == [{"id": 10}, {"id": 11}]
    assert ALICE not in listing.read_text() and BOB not in listing.read_text()

    # Not planned: the request runs as any other.
    assert "has not been run" in ok(run("requests", "steps", reference)).stdout
    ok(run("requests", "run", reference))
    with sqlite3.connect(shop) as connection:
        assert connection.execute("SELECT id, name FROM customers ORDER BY id").fetchall() == [
            (1, None),
            (2, "Bob Baker"),
        ]
        names = connection.execute("SELECT id, delivery_name FROM orders ORDER BY id").fetchall()
        assert names == [(10, None), (11, None), (12, "Bob Baker")]


def test_dry_run_of_a_logged_request_and_what_is_refused(run: Run, shop: Path) -> None:
    queued = ok(
        run(
            "requests", "submit", "--kind", "erasure", "--identity", f"email={ALICE}",
            "--verified", "--dry-run",
        )
    )  # fmt: skip
    logged = next(line for line in queued.stdout.splitlines() if "request logged" in line)
    reference = logged.split()[0]
    again = ok(run("requests", "dry-run", reference))
    assert f"run it with `opendpo requests run {reference}`" in again.stdout
    shown = ok(run("requests", "show", reference)).stdout
    assert "Dry run: 0 row(s) would be deleted, 3 masked" in shown

    refused = run(
        "requests", "submit", "--kind", "access", "--identity", f"email={ALICE}", "--verified",
        "--dry-run",
    )  # fmt: skip
    assert refused.exit_code == 2 and "--dry-run" in refused.output
    unverified = run(
        "requests", "submit", "--kind", "erasure", "--identity", "email=x@y.z", "--dry-run"
    )
    assert unverified.exit_code == 2


def test_a_person_with_many_rows_is_listed_in_full_to_the_file_and_in_part_on_screen(
    run: Run, shop: Path, tmp_path: Path
) -> None:
    # Past ONE_BATCH_ROWS: planned batch by batch, as the real run, and listed the same way.
    many = 55_000
    with sqlite3.connect(shop) as connection:
        connection.executemany(
            "INSERT INTO orders VALUES (?, 1, 9.99, 'Alice Archer')",
            ((1_000 + n,) for n in range(many)),
        )
    listing = tmp_path / "dry-run.json"
    previewed = ok(
        run(
            "requests", "submit", "--kind", "erasure", "--identity", f"email={ALICE}",
            "--verified", "--dry-run", "--output", str(listing),
        )
    )  # fmt: skip
    out = previewed.stdout
    orders = many + 2
    assert f"shop.orders: {orders - 50} more row(s) not shown (all are in {listing})" in out
    assert f"0 row(s) would be deleted, {orders + 1} masked, 0 kept as they are" in out

    document = json.loads(listing.read_text(encoding="utf-8"))
    rows = document["systems"]["shop"]["collections"]["shop.orders"]["rows"]
    assert len(rows) == orders and {r["action"] for r in rows} == {"update"}
    assert [r["key"]["id"] for r in rows] == [10, 11, *range(1_000, 1_000 + many)]
    assert document["totals"] == {"update": orders + 1, "delete": 0, "keep": 0}

    reference = next(line for line in out.splitlines() if "request logged" in line).split()[0]
    ok(run("requests", "run", reference))
    with sqlite3.connect(shop) as connection:
        named = connection.execute(
            "SELECT count(*) FROM orders WHERE delivery_name IS NOT NULL"
        ).fetchone()
    assert named == (1,)  # Bob's order only: every listed row was masked
