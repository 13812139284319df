"""docs/deadlines.md stays true: its commands print what it shows, its weekdays are right and its
table of rules is the calendar's."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from opendpo.cli import cli
from opendpo.rights.calendar import RULE_FOR_KIND, DeadlineRule

ROOT = Path(__file__).resolve().parents[2]
DEADLINES = ROOT / "docs" / "deadlines.md"
CONSOLE_BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
DAY = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{1,2}) ([A-Z][a-z]{2}) (\d{4})\b")
RULE_NAMES = {
    "one month": DeadlineRule.ONE_MONTH,
    "ten working days": DeadlineRule.TEN_WORKING_DAYS,
    "acknowledge within 30 days": DeadlineRule.THIRTY_DAYS,
}


def examples() -> list[tuple[str, list[str]]]:
    """Each `$ opendpo …` line in a console block, with the lines shown after it."""
    found: list[tuple[str, list[str]]] = []
    for block in CONSOLE_BLOCK.findall(DEADLINES.read_text(encoding="utf-8")):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                found[-1][1].append(line)
    return found


EXAMPLES = examples()


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_each_example_prints_what_the_page_shows(command: str, shown: list[str]) -> None:
    words = shlex.split(command)
    assert words[0] == "opendpo"
    result = CliRunner().invoke(cli, words[1:])
    assert result.exit_code == 0, result.output
    assert [line.rstrip() for line in result.stdout.splitlines()] == shown


def test_every_weekday_named_is_right() -> None:
    days = DAY.findall(DEADLINES.read_text(encoding="utf-8"))
    assert len(days) > 30
    for weekday, day, month, year in days:
        when = dt.datetime.strptime(f"{day} {month} {year}", "%d %b %Y").date()
        assert when.strftime("%a") == weekday, f"{weekday} {day} {month} {year}"


def test_the_table_of_rules_is_the_calendars() -> None:
    text = DEADLINES.read_text(encoding="utf-8")
    section = text.split("## Which rule applies", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, DeadlineRule] = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) == 3 and cells[1] in RULE_NAMES:
            for kind in re.findall(r"`([a-z_]+)`", cells[0]):
                documented[kind] = RULE_NAMES[cells[1]]
    assert documented == dict(RULE_FOR_KIND)
