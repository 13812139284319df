"""`opendpo calendar due` prints the date a request is due, for staff and scripts to check."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from opendpo.cli import cli


def run(*args: str) -> Result:
    # The calendar needs no store and no settings: nothing else is set up.
    return CliRunner().invoke(cli, ["calendar", "due", *args])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # 28 Feb 2027 is a Sunday.
        (["--received", "2027-01-31", "--kind", "access"], "2027-03-01"),
        # Leap year: 29 Feb 2028 is a Tuesday.
        (["--received", "2028-01-31", "--kind", "erasure"], "2028-02-29"),
        # The clock starts when identity is proved.
        (
            ["--received", "2027-01-10", "--kind", "access", "--verified", "2027-01-31"],
            "2027-03-01",
        ),
        (
            ["--received", "2027-01-10", "--kind", "access", "--authority", "2027-01-31"],
            "2027-03-01",
        ),
        (
            ["--received", "2027-01-10", "--kind", "access", "--fee-paid", "2027-01-31"],
            "2027-03-01",
        ),
        # Three months from the start: 30 Apr 2027, a Friday.
        (["--received", "2027-01-31", "--kind", "access", "--extended"], "2027-04-30"),
        (["--received", "2027-01-31", "--kind", "access", "--extended-months", "1"], "2027-03-31"),
        # 28 Feb + 3 days.
        (["--received", "2027-01-31", "--kind", "access", "--paused-days", "3"], "2027-03-03"),
        # Ten working days across Christmas and New Year 2027.
        (["--received", "2027-12-17", "--kind", "rectification"], "2028-01-05"),
        # Thirty days, not moved off Boxing Day (a Sunday).
        (["--received", "2027-11-26", "--kind", "complaint"], "2027-12-26"),
    ],
)
def test_prints_the_due_date_alone(args: list[str], expected: str) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{expected}\n"


def test_explain_shows_how_the_date_was_reached() -> None:
    result = run(
        "--received",
        "2027-01-31",
        "--kind",
        "access",
        "--extended-months",
        "1",
        "--paused-days",
        "3",
        "--today",
        "2027-02-20",
        "--explain",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2027-04-05"
    rows = {
        cells[0]: cells[1]
        for line in lines[1:]
        if len(cells := [cell.strip() for cell in line.strip("│ ").split("│")]) == 2
    }
    # 31 Mar + 3 days is Saturday 3 Apr; 28 Feb + 3 days is Wednesday 3 Mar. From Saturday
    # 20 Feb to Monday 5 Apr: 22 Feb to 2 Apr (30 working days, less Good Friday 26 Mar and
    # Easter Monday 29 Mar), then 5 Apr.
    assert rows == {
        "clock starts": "2027-01-31",
        "original due": "2027-03-03",
        "extension": "1 further month",
        "paused days": "3",
        "due": "2027-04-05",
        "working days from 2027-02-20": "29",
    }


def test_explain_marks_an_overdue_request() -> None:
    result = run(
        "--received", "2027-01-31", "--kind", "access", "--today", "2027-03-02", "--explain"
    )
    assert result.exit_code == 0, result.output
    assert "-1 (overdue)" in result.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--received", "31/01/2027", "--kind", "access"], "'--received'"),
        (["--received", "2027-02-30", "--kind", "access"], "'--received'"),
        (["--received", "2027-01-31", "--kind", "subject_access"], "'--kind'"),
        (["--received", "2027-01-31", "--kind", "access", "--verified", "soon"], "'--verified'"),
        (
            ["--received", "2027-01-31", "--kind", "access", "--extended-months", "3"],
            "'--extended-months'",
        ),
        (
            ["--received", "2027-01-31", "--kind", "access", "--paused-days", "-1"],
            "'--paused-days'",
        ),
        (["--received", "2027-01-31", "--kind", "rectification", "--extended"], "'--extended'"),
        (
            ["--received", "2027-01-31", "--kind", "complaint", "--extended-months", "1"],
            "'--extended-months'",
        ),
        (
            ["--received", "2027-01-31", "--kind", "complaint", "--paused-days", "2"],
            "'--paused-days'",
        ),
        (["--kind", "access"], "'--received'"),
    ],
)
def test_bad_input_names_the_option(args: list[str], option: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert option in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_extended_and_extended_months_are_alternatives() -> None:
    result = run(
        "--received", "2027-01-31", "--kind", "access", "--extended", "--extended-months", "1"
    )
    assert result.exit_code == 2
    assert "give --extended or --extended-months, not both" in result.stderr
