"""docs/cli.md must be what scripts/cli_reference.py prints today."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

from opendpo.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cli_reference.py"
REFERENCE = ROOT / "docs" / "cli.md"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    # Run exactly as `make docs` does.
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    committed = REFERENCE.read_text(encoding="utf-8")
    assert done.stdout == committed, (
        "docs/cli.md is out of date with the commands' --help: run `make docs` and commit it"
    )


def test_reference_does_not_depend_on_the_terminal(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow = script.render()
    monkeypatch.setenv("COLUMNS", "200")
    assert script.render() == narrow


def test_reference_covers_every_visible_command(script: ModuleType) -> None:
    text = script.render()

    def paths(command: click.Command, prefix: str) -> list[str]:
        found = [prefix]
        if isinstance(command, click.Group):
            for name, child in sorted(command.commands.items()):
                if not child.hidden:
                    found += paths(child, f"{prefix} {name}")
        return found

    expected = paths(cli, "opendpo")
    assert {"opendpo policy check", "opendpo db upgrade", "opendpo settings"} <= set(expected)
    for path in expected:
        assert f"## `{path}`\n\n```text\nUsage: {path} " in text
