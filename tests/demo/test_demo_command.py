"""`opendpo demo estate` through the CLI runner, as `make demo` runs it, then the newcomer's
requests on the estate: an access package from every system, and an erasure that leaves the
person erased and everyone else untouched."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from estate_reading import read_table

from opendpo.demo.estate import default_estate_urls
from opendpo.demo.jane import EMAIL, VISITOR_ID, jane_rows
from opendpo.demo.schema import DATASETS, dataset_metadata
from opendpo.policy.loader import load_policy

Run = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "connect-ib.yaml"
PEOPLE = 40
SEED = 7
SYSTEMS = {
    "crm": "crm_db",
    "billing": "billing_db",
    "email_platform": "email_platform",
    "website": "website_db",
}
# Jane Example's identifiers, in every form the estate holds them.
HER_VALUES = (EMAIL, "Jane Example", "7700 900123", "7700900123", VISITOR_ID)
# How a row is told apart in each table that has no `id` column.
ROW_KEYS = {"email_platform.subscribers": "email", "email_platform.suppressions": "email"}


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def estate(run: Run, tmp_path: Path) -> dict[str, str]:
    """The store upgraded, Connect IB's policy applied and the demo estate built: its URLs."""
    ok(run("db", "upgrade"))
    ok(run("policy", "apply", str(POLICY), "--by", "test"))
    built = ok(demo(run, tmp_path))
    assert f"built the demo estate: {PEOPLE + 1} people" in built.stdout
    return default_estate_urls(tmp_path / "var")


def demo(run: Run, tmp_path: Path, *extra: str) -> Result:
    return run(
        "demo", "estate", "--dir", str(tmp_path / "var"), "--people", str(PEOPLE),
        "--seed", str(SEED), *extra,
    )  # fmt: skip


def submit(run: Run, tmp_path: Path, kind: str, out: Path) -> Result:
    return ok(
        run(
            "requests", "submit", "--kind", kind, "--identity", f"email={EMAIL}",
            "--identity", f"cookie_id={VISITOR_ID}", "--verified", "--wait",
            "--output", str(out),
            env={"OPENDPO_OUTBOX_PATH": str(tmp_path / "outbox")},
        )
    )  # fmt: skip


def snapshot(urls: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    return {
        f"{dataset}.{name}": read_table(urls[dataset], f"{dataset}.{name}")
        for dataset in DATASETS
        for name in dataset_metadata(dataset).tables
    }


def row_key(table: str, row: dict[str, Any]) -> Any:
    if table in ROW_KEYS:
        return row[ROW_KEYS[table]]
    if "id" in row:
        return row["id"]
    return tuple(sorted((k, str(v)) for k, v in row.items()))  # website visits: the whole row


def split(table: str, rows: list[dict[str, Any]]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """(Jane's rows, everyone else's), each by row key."""
    hers = {row_key(table, row) for row in jane_rows().get(table, [])}
    keyed = {row_key(table, row): row for row in rows}

    def is_hers(key: Any, row: dict[str, Any]) -> bool:
        # Her visits have no key of their own: her visitor id tells them apart.
        return row.get("visitor_id") == VISITOR_ID if table == "website_db.visits" else key in hers

    mine = {key: row for key, row in keyed.items() if is_hers(key, row)}
    others = {key: row for key, row in keyed.items() if key not in mine}
    return mine, others


def test_the_estate_is_built_connected_and_reused(
    run: Run, estate: dict[str, str], tmp_path: Path
) -> None:
    listed = ok(run("systems", "list")).stdout
    for system in SYSTEMS:
        assert system in listed
        assert f"{system}: ok" in ok(run("systems", "test", system)).stdout
    assert listed.count("systems add") == len(SYSTEMS)
    before = snapshot(estate)
    again = ok(demo(run, tmp_path))
    assert "already built: reusing it" in again.stdout
    for system in SYSTEMS:
        assert f"{system}: connected" in again.stdout
    assert f"  {EMAIL}  Jane Example (in crm_db, billing_db, email_platform, website_db)" in (
        again.stdout
    )
    assert snapshot(estate) == before
    rebuilt = ok(demo(run, tmp_path, "--replace", "--people", "10"))
    assert "built the demo estate: 11 people" in rebuilt.stdout
    assert len(snapshot(estate)["crm_db.contacts"]) < len(before["crm_db.contacts"])


def test_access_packages_her_rows_from_every_system(
    run: Run, estate: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = submit(run, tmp_path, "access", out)
    assert "completed in" in done.stdout
    (package,) = out.glob("*.zip")
    with zipfile.ZipFile(package) as archive:
        data = json.loads(archive.read("data.json"))
        assert "report.html" in archive.namelist()
    assert set(data["systems"]) == set(SYSTEMS)
    for system, dataset in SYSTEMS.items():
        collections = data["systems"][system]["collections"]
        assert any(c["rows"] for c in collections.values()), system
        assert {c["dataset"] for c in collections.values()} == {dataset}
    crm = data["systems"]["crm"]["collections"]
    assert [row["email"] for row in crm["contacts"]["rows"]] == [EMAIL]
    visits = data["systems"]["website"]["collections"]["visits"]["rows"]
    assert len(visits) == len(jane_rows()["website_db.visits"])
    invoices = data["systems"]["billing"]["collections"]["invoices"]["rows"]
    assert sorted(row["id"] for row in invoices) == [1, 2]


def test_erasure_leaves_her_erased_and_everyone_else_untouched(
    run: Run, estate: dict[str, str], tmp_path: Path
) -> None:
    before = snapshot(estate)
    out = tmp_path / "out"
    done = submit(run, tmp_path, "erasure", out)
    assert "completed in" in done.stdout
    (report,) = out.glob("*-erasure-report.json")
    assert json.loads(report.read_text())["systems"] == sorted(SYSTEMS)
    after = snapshot(estate)
    exempt = {e.collection for e in load_policy(POLICY).document.erasure.exemptions}
    for table, rows in after.items():
        hers_before, others_before = split(table, before[table])
        hers_after, others_after = split(table, rows)
        assert others_after == others_before, f"{table}: someone else's rows changed"
        text = json.dumps(list(hers_after.values()), default=str)
        for value in HER_VALUES:
            assert value not in text, f"{table} still holds {value}"
        if table in exempt:
            assert set(hers_after) == set(hers_before), f"{table}: kept rows are gone"
        else:
            assert hers_after == {}, f"{table}: her rows are still there"
    assert after["billing_db.invoices"][0]["number"] == before["billing_db.invoices"][0]["number"]


def test_erasing_a_client_contact_leaves_their_colleagues_untouched(
    run: Run, estate: dict[str, str], tmp_path: Path
) -> None:
    billing = estate["billing_db"]
    customers = {c["id"]: c for c in read_table(billing, "billing_db.customers")}
    contacts = read_table(billing, "billing_db.customer_contacts")
    # A contact whose address is also their client's billing address, with colleagues: the
    # customer row is found by her address, and must not lead to the colleagues' rows.
    her = next(
        c
        for c in contacts
        if customers[c["customer_id"]]["billing_email"] == c["email"]
        and sum(o["customer_id"] == c["customer_id"] for o in contacts) > 1
    )
    colleagues = [c for c in contacts if c["customer_id"] == her["customer_id"] and c != her]
    listing = tmp_path / "dry-run.json"
    previewed = ok(
        run(
            "requests", "submit", "--kind", "erasure", "--identity", f"email={her['email']}",
            "--verified", "--dry-run", "--output", str(listing),
        )
    )  # fmt: skip
    reference = next(
        line for line in previewed.stdout.splitlines() if "request logged" in line
    ).split()[0]
    rows = json.loads(listing.read_text())["systems"]["billing"]["collections"]
    assert [r["action"] for r in rows["billing_db.customer_contacts"]["rows"]] == ["delete"]
    assert read_table(billing, "billing_db.customer_contacts") == contacts

    ok(run("requests", "run", reference, env={"OPENDPO_OUTBOX_PATH": str(tmp_path / "outbox")}))
    after = read_table(billing, "billing_db.customer_contacts")
    assert after == [c for c in contacts if c != her]
    assert colleagues and all(c in after for c in colleagues)
    # The client's row is kept for its invoices, her address masked out of it.
    assert (
        read_table(billing, "billing_db.customers")[her["customer_id"] - 1]["billing_email"] is None
    )


def test_nothing_is_built_without_a_policy(run: Run, tmp_path: Path) -> None:
    ok(run("db", "upgrade"))
    refused = demo(run, tmp_path)
    assert refused.exit_code == 1
    assert "policy" in refused.output
    assert not (tmp_path / "var" / "estate").exists()


def test_a_url_for_an_unknown_dataset_is_refused(run: Run, tmp_path: Path) -> None:
    refused = demo(run, tmp_path, "--url", "shop=sqlite:///shop.db", "--no-connect")
    assert refused.exit_code == 2
    assert "--url" in refused.output
