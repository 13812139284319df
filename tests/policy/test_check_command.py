"""`opendpo policy check`: located errors on stderr and exit code 1; a summary when it passes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result
from policy_edits import where

from opendpo.cli import cli

Broken = Callable[..., Path]


def check(path: Path) -> Result:
    # The check reads no settings and opens no store, so it needs no environment.
    return CliRunner().invoke(cli, ["policy", "check", str(path)])


def test_valid_policy_passes_with_a_summary(minimal_policy: Path) -> None:
    result = check(minimal_policy)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{minimal_policy}: OK (2 purposes, 1 recipients, 1 systems, 1 datasets, "
        "notice version 1.0)\n"
    )
    assert result.stderr == ""


def test_unknown_key_is_reported_on_stderr(broken: Broken) -> None:
    path = broken(("  legal_name: Example", "  legal_nme: Example"))
    result = check(path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{path}:3:3: unknown key 'legal_nme' in controller (did you mean 'legal_name'?)\n"
        f"1 error in {path}\n"
    )


def test_every_error_is_listed_in_file_order(broken: Broken) -> None:
    path = broken(
        ("    recipients: [courier]", "    recipients: [couier]"),
        ("    lawful_basis: contract", "    lawful_basis: legitimate_interests"),
    )
    result = check(path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{where(path, 'legitimate_interests')}: legitimate-interest purpose 'client_contracts' "
        "has no reasoning: add legitimate_interest with interest, necessity and balancing",
        f"{where(path, 'couier')}: unknown recipient 'couier'",
        f"2 errors in {path}",
    ]


def test_special_category_error_through_the_command(broken: Broken) -> None:
    path = broken(
        (
            "user.contact.email]\n    data_subjects: [client",
            "user.health_and_medical]\n    data_subjects: [client",
        )
    )
    result = check(path)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{where(path, 'user.health_and_medical')}: special category 'user.health_and_medical' "
        "needs an Art 9 condition: add special_category_condition (art9_2_a … art9_2_j)"
    )


def test_outside_uk_recipient_through_the_command(broken: Broken) -> None:
    path = broken(
        ("    minimum_fields: [user.name]", "    minimum_fields: [user.name]\n    country: US")
    )
    result = check(path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{where(path, 'country: US', 'US')}: recipient 'courier' is in US, outside the UK, and "
        "has no transfer_mechanism (adequacy, idta, uk_addendum, binding_corporate_rules)",
        f"1 error in {path}",
    ]


def test_warnings_are_shown_but_do_not_fail(broken: Broken) -> None:
    path = broken(("    datasets: [crm_db]\n", ""))
    result = check(path)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"{where(path, '- fides_key: crm_db', 'fides_key')}: warning: dataset 'crm_db' belongs "
        "to no system\n"
    )
    assert "OK" in result.stdout


def test_folder_errors_name_the_file(tmp_path: Path, minimal_text: str) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "all.yaml").write_text(minimal_text, encoding="utf-8")
    second = folder / "copy.yaml"
    second.write_text("notice:\n  title: Again\n", encoding="utf-8")
    result = check(folder)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{second}:1:1: 'notice' is already declared at {where(folder / 'all.yaml', 'notice:')}",
        f"1 error in {folder}",
    ]


def test_no_traceback_for_a_missing_path(tmp_path: Path) -> None:
    result = check(tmp_path / "absent.yaml")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[0] == f"{tmp_path / 'absent.yaml'}: no such file or folder"
