"""`opendpo policy apply|diff|versions` against a real store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.orm import Session

from opendpo.security import audit
from opendpo.security.keyring import Keyring

Run = Callable[..., Result]


def rewritten(source: Path, target: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"snippet not found exactly once: {old!r}"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return target


def rows(output: str) -> list[list[str]]:
    """The body rows of a rich table, as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


@pytest.fixture
def upgraded(run: Run) -> Run:
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    return run


def test_apply_creates_version_1_then_is_idempotent(upgraded: Run, minimal_policy: Path) -> None:
    first = upgraded("policy", "apply", str(minimal_policy), "--by", "dpo")
    assert first.exit_code == 0, first.output
    assert first.stdout.endswith(f"applied {minimal_policy} as policy version 1 (notice 1.0)\n")
    assert ["added", "purposes", "marketing_email", ""] in rows(first.stdout)

    again = upgraded("policy", "apply", str(minimal_policy), "--by", "dpo")
    assert again.exit_code == 0, again.output
    assert again.stdout == (f"unchanged: policy version 1 already matches {minimal_policy}\n")


def test_changed_policy_becomes_version_2(
    upgraded: Run, minimal_policy: Path, tmp_path: Path
) -> None:
    upgraded("policy", "apply", str(minimal_policy), "--by", "dpo")
    changed = rewritten(minimal_policy, tmp_path / "p.yaml", "period: P2Y", "period: P3Y")
    result = upgraded("policy", "apply", str(changed), "--by", "engineer")
    assert result.exit_code == 0, result.output
    assert rows(result.stdout) == [["changed", "retention", "marketing_consent", "period"]]
    assert result.stdout.endswith(f"applied {changed} as policy version 2 (notice 1.0)\n")


def test_diff_with_nothing_to_change(upgraded: Run, minimal_policy: Path) -> None:
    upgraded("policy", "apply", str(minimal_policy))
    result = upgraded("policy", "diff", str(minimal_policy))
    assert result.exit_code == 0, result.output
    assert result.stdout == "no changes: the store already holds this policy\n"


def test_diff_shows_the_changed_purpose_and_stores_nothing(
    upgraded: Run, minimal_policy: Path, tmp_path: Path
) -> None:
    upgraded("policy", "apply", str(minimal_policy), "--by", "dpo")
    changed = rewritten(
        minimal_policy,
        tmp_path / "p.yaml",
        "News about our products, sent to people who opted in.",
        "News and offers, sent to people who opted in.",
    )
    result = upgraded("policy", "diff", str(changed))
    assert result.exit_code == 0, result.output
    assert rows(result.stdout) == [["changed", "purposes", "marketing_email", "description"]]
    # A diff is a preview: the store still holds only version 1.
    versions = upgraded("policy", "versions")
    assert [row[0] for row in rows(versions.stdout) if row[0]] == ["1"]


def test_diff_against_an_empty_store_adds_everything(upgraded: Run, minimal_policy: Path) -> None:
    result = upgraded("policy", "diff", str(minimal_policy))
    assert result.exit_code == 0, result.output
    added = {(row[1], row[2]) for row in rows(result.stdout) if row[0] == "added"}
    assert {("purposes", "client_contracts"), ("recipients", "courier"), ("dataset", "crm_db")} <= (
        added
    )


def test_versions_lists_every_apply(upgraded: Run, minimal_policy: Path, tmp_path: Path) -> None:
    upgraded("policy", "apply", str(minimal_policy), "--by", "dpo")
    changed = rewritten(minimal_policy, tmp_path / "p.yaml", "period: P2Y", "period: P3Y")
    upgraded("policy", "apply", str(changed), "--by", "engineer")
    result = upgraded("policy", "versions")
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    # Long cells fold onto continuation rows; the first row of each version carries its number.
    numbered = [row for row in table if row[0]]
    assert [(row[0], row[1], row[3]) for row in numbered] == [
        ("1", "1.0", "dpo"),
        ("2", "1.0", "engineer"),
    ]


def test_apply_refuses_an_invalid_policy(
    upgraded: Run, minimal_policy: Path, tmp_path: Path
) -> None:
    broken = rewritten(
        minimal_policy, tmp_path / "p.yaml", "recipients: [courier]", "recipients: [x]"
    )
    result = upgraded("policy", "apply", str(broken))
    assert result.exit_code == 1
    assert result.stderr.endswith(f"unknown recipient 'x'\n1 error in {broken}\n")
    assert rows(upgraded("policy", "versions").stdout) == []


@pytest.mark.parametrize(
    "command",
    [("policy", "apply"), ("policy", "diff"), ("policy", "versions")],
    ids=lambda command: " ".join(command),
)
def test_commands_refuse_a_store_that_was_not_upgraded(
    run: Run, minimal_policy: Path, command: tuple[str, str]
) -> None:
    args = [*command, str(minimal_policy)] if command[1] != "versions" else list(command)
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the store's schema is not up to date: run `opendpo db upgrade` first\n"
    )
    assert "Traceback" not in result.output
    # Nothing was created behind the operator's back.
    assert run("db", "status").exit_code == 1


def test_apply_and_export_are_on_the_audit_log(
    upgraded: Run, minimal_policy: Path, session: Session, keyring: Keyring
) -> None:
    assert upgraded("policy", "apply", str(minimal_policy), "--by", "dpo").exit_code == 0
    assert upgraded("policy", "apply", str(minimal_policy), "--by", "dpo").exit_code == 0
    assert upgraded("ropa", "export", "--format", "csv").exit_code == 0
    entries = audit.search(session=session, query=audit.AuditQuery())
    # The unchanged second apply changed nothing, so it records nothing.
    assert [(e.action, e.target_id, e.actor_kind) for e in reversed(entries)] == [
        ("policy.applied", "1", "cli"),
        ("ropa.exported", "1", "cli"),
    ]
    assert entries[0].details == {"format": "csv"}
    assert audit.verify(session=session, keyring=keyring).ok
