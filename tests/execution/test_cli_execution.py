"""`opendpo systems` and `opendpo requests submit|run|steps|answer` through the CLI runner,
on a shop in a SQLite file: the commands a DPO types, with the outputs they rely on."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from five_systems import ALICE, BOB, seed_shop, write_policy

Run = Callable[..., Result]


@pytest.fixture
def shop(run: Run, tmp_path: Path) -> Path:
    """The store upgraded, the shop-only policy applied and the shop's database seeded."""
    path = tmp_path / "shop.db"
    seed_shop(f"sqlite:///{path}")
    assert run("db", "upgrade").exit_code == 0
    applied = run("policy", "apply", str(write_policy(tmp_path, only=("shop",))), "--by", "test")
    assert applied.exit_code == 0, applied.output
    return path


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def reference_of(result: Result) -> str:
    line = next(line for line in result.stdout.splitlines() if "request logged" in line)
    return line.split()[0]


def test_a_system_is_connected_tested_listed_and_removed(run: Run, shop: Path) -> None:
    added = ok(run("systems", "add", "shop", "--url", f"sqlite:///{shop}"))
    assert "shop: connection saved (encrypted); datasets: shop" in added.stdout
    assert "shop" in ok(run("systems", "list")).stdout
    ok(run("systems", "test", "shop"))
    ok(run("systems", "remove", "shop"))
    # Without a connection the shop is reached by staff: the test says so, and fails.
    assert run("systems", "test", "shop").exit_code != 0


def test_a_connection_that_cannot_be_made_is_not_saved(
    run: Run, shop: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "shop.db"
    refused = run("systems", "add", "shop", "--url", f"sqlite:///{missing}?mode=ro")
    assert refused.exit_code == 1
    assert "not saved" in refused.output
    assert "Traceback" not in refused.output
    listed = ok(run("systems", "list")).stdout
    assert "connection saved" not in listed


def test_submit_wait_writes_the_access_package(run: Run, shop: Path, tmp_path: Path) -> None:
    ok(run("systems", "add", "shop", "--url", f"sqlite:///{shop}"))
    out = tmp_path / "out"
    submitted = ok(
        run(
            "requests", "submit", "--kind", "access", "--identity", f"email={ALICE}",
            "--verified", "--how", "passport seen", "--wait", "--output", str(out),
        )
    )  # fmt: skip
    assert "completed in" in submitted.stdout
    # The progress bar counted every step of the plan, each as its outcome was committed.
    assert "2/2 steps" in submitted.stderr, submitted.stderr
    (package,) = out.glob("*.zip")
    with zipfile.ZipFile(package) as archive:
        data = json.loads(archive.read("data.json"))
        names = set(archive.namelist())
    rows = data["systems"]["shop"]["collections"]["customers"]["rows"]
    assert rows == [{"id": 1, "email": ALICE, "name": "Alice Archer"}]
    assert "report.html" in names
    assert BOB not in json.dumps(data)


def test_submit_without_wait_queues_and_run_finishes_an_erasure(
    run: Run, shop: Path, tmp_path: Path
) -> None:
    ok(run("systems", "add", "shop", "--url", f"sqlite:///{shop}"))
    queued = run(
        "requests", "submit", "--kind", "erasure", "--identity", f"email={ALICE}",
        "--verified", "--how", "signed letter",
        env={"OPENDPO_TASK_QUEUE_PATH": str(tmp_path / "tasks.db")},
    )  # fmt: skip
    ok(queued)
    assert "queued" in queued.stdout
    reference = reference_of(queued)
    pending = ok(run("requests", "steps", reference))
    assert "pending" in pending.output
    report_dir = tmp_path / "report"
    finished = ok(run("requests", "run", reference, "--output", str(report_dir)))
    assert "completed in" in finished.stdout
    with sqlite3.connect(shop) as connection:
        assert connection.execute("SELECT id, name FROM customers ORDER BY id").fetchall() == [
            (1, None),
            (2, "Bob Baker"),
        ]
    (report,) = report_dir.glob("*-erasure-report.json")
    assert json.loads(report.read_text())["changed"] == {"shop.customers": 1, "shop.orders": 2}


def test_a_malformed_identity_is_refused_naming_the_option(run: Run, shop: Path) -> None:
    refused = run("requests", "submit", "--kind", "access", "--identity", "alice", "--verified")
    assert refused.exit_code == 2
    assert "--identity" in refused.output
    assert "Traceback" not in refused.output


def test_a_manual_system_waits_for_the_answer(run: Run, shop: Path, tmp_path: Path) -> None:
    config = tmp_path / "manual.yaml"
    config.write_text("instructions: Find or delete the customer in the shop's admin pages.\n")
    ok(run("systems", "add", "shop", "--type", "manual", "--config", str(config), "--no-check"))
    submitted = ok(
        run(
            "requests", "submit", "--kind", "erasure", "--identity", f"email={ALICE}",
            "--verified", "--how", "in person", "--wait",
        )
    )  # fmt: skip
    assert "wait on a person" in submitted.stdout
    reference = reference_of(submitted)
    steps = ok(run("requests", "steps", reference)).output
    assert "waiting" in steps
    refused = run("requests", "answer", reference, "1", "--done", "--note", "  ")
    assert refused.exit_code != 0 and "note" in refused.output
    ok(run("requests", "answer", reference, "1", "--done", "--note", "Deleted in the shop admin"))
    finished = ok(run("requests", "run", reference))
    assert "completed in" in finished.stdout


def test_an_objection_needs_its_ground(run: Run, shop: Path) -> None:
    refused = run(
        "requests", "submit", "--kind", "objection", "--identity", f"email={ALICE}", "--verified"
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "--ground" in refused.output
    misplaced = run(
        "requests", "submit", "--kind", "access", "--identity", f"email={ALICE}", "--verified",
        "--ground", "direct_marketing",
    )  # fmt: skip
    assert misplaced.exit_code == 2 and "--ground" in misplaced.output
