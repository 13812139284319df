"""`opendpo ropa export`, from the store's current policy or straight from a policy file."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result
from openpyxl import load_workbook

from opendpo.cli import cli
from opendpo.policy.loader import load_policy

ROOT = Path(__file__).resolve().parents[2]
CONNECT_IB = ROOT / "policies" / "connect-ib.yaml"

Opendpo = Callable[..., Result]


def csv_rows(result: Result) -> dict[str, dict[str, str]]:
    reader = csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline=""))
    return {row["Purpose key"]: row for row in reader}


def test_export_from_the_store_after_apply(opendpo: Opendpo, minimal_policy: Path) -> None:
    assert opendpo("db", "upgrade").exit_code == 0
    applied = opendpo("policy", "apply", str(minimal_policy), "--by", "test")
    assert applied.exit_code == 0, applied.output

    result = opendpo("ropa", "export", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result)
    assert list(rows) == ["client_contracts", "marketing_email"]
    assert rows["marketing_email"]["Lawful basis (Art 6(1))"] == "Consent (Art 6(1)(a))"
    assert rows["client_contracts"]["Categories of recipients (Art 30(1)(d))"] == (
        "Courier (courier, controller, GB)"
    )

    data = json.loads(opendpo("ropa", "export", "--format", "json").stdout_bytes)
    assert data["policy_version"] == 1
    assert data["notice_version"] == "1.0"


def test_output_file(opendpo: Opendpo, minimal_policy: Path, tmp_path: Path) -> None:
    opendpo("db", "upgrade")
    opendpo("policy", "apply", str(minimal_policy), "--by", "test")
    target = tmp_path / "records.xlsx"

    result = opendpo("ropa", "export", "--format", "xlsx", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b""
    assert f"wrote 2 processing activities to {target}" in result.stderr
    workbook = load_workbook(target)
    rows = list(workbook["Processing activities"].iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == ["client_contracts", "marketing_email"]

    page = tmp_path / "records.html"
    assert opendpo("ropa", "export", "--format", "html", "--output", str(page)).exit_code == 0
    assert "Marketing emails" in page.read_text(encoding="utf-8")


def test_no_policy_applied_yet(opendpo: Opendpo) -> None:
    assert opendpo("db", "upgrade").exit_code == 0
    result = opendpo("ropa", "export", "--format", "csv")
    assert result.exit_code == 1
    assert "no policy applied yet: run `opendpo policy apply PATH`" in result.stderr
    assert result.stdout_bytes == b""


def test_policy_file_is_read_without_the_store(tmp_path: Path, rich_policy: Path) -> None:
    store = tmp_path / "never-created.db"
    runner = CliRunner(env={"OPENDPO_DATABASE_URL": f"sqlite:///{store}"})
    result = runner.invoke(
        cli, ["ropa", "export", "--format", "jsonld", "--policy", str(rich_policy)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout_bytes)
    assert document["@context"]["dpv"] == "https://w3id.org/dpv#"
    assert not store.exists()


def test_invalid_policy_file_is_reported_with_its_location(
    tmp_path: Path, minimal_policy: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        minimal_policy.read_text(encoding="utf-8").replace(
            "lawful_basis: contract", "lawful_basis: whim"
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["ropa", "export", "--format", "csv", "--policy", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:" in result.stderr
    assert "1 error in" in result.stderr


def test_xlsx_is_not_written_to_a_terminal(minimal_policy: Path) -> None:
    leader, follower = pty.openpty()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "opendpo", "ropa", "export", "--format", "xlsx",
             "--policy", str(minimal_policy)],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )  # fmt: skip
    finally:
        os.close(follower)
        os.close(leader)
    assert completed.returncode == 2
    assert b"refusing to write binary xlsx to a terminal: use -o FILE or a pipe" in (
        completed.stderr
    )


def test_connect_ib_records_list_every_purpose() -> None:
    document = load_policy(CONNECT_IB).document
    result = CliRunner().invoke(
        cli, ["ropa", "export", "--format", "csv", "--policy", str(CONNECT_IB)]
    )
    assert result.exit_code == 0, result.output
    rows = csv_rows(result)
    assert list(rows) == [purpose.key for purpose in document.purposes]
    for purpose in document.purposes:
        row = rows[purpose.key]
        assert row["Lawful basis (Art 6(1))"].endswith(f"({purpose.article})")
        for key in purpose.recipients:
            assert document.recipient(key).name in row["Categories of recipients (Art 30(1)(d))"]
        if purpose.retention:
            rule = document.retention_rule(purpose.retention)
            assert row["Retention limits (Art 30(1)(f))"].startswith(rule.name)
