"""docs/security.md must stay true to the code: roles, settings, commands and link lifetimes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from opendpo.cli import cli
from opendpo.security.links import LINK_LIFETIMES
from opendpo.security.roles import API_KEY_SCOPES, ROLE_DESCRIPTIONS, ROLE_PERMISSIONS, Permission
from opendpo.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECURITY = ROOT / "docs" / "security.md"
ROLES_BLOCK = re.compile(r"<!-- roles:[^>]*-->\n(.*?)<!-- /roles -->", re.DOTALL)


@pytest.fixture(scope="module")
def text() -> str:
    return SECURITY.read_text(encoding="utf-8")


def role_tables() -> str:
    """The role tables as docs/security.md must show them, from opendpo.security.roles."""
    roles = list(ROLE_PERMISSIONS)
    lines = ["| role | what it is for |", "|---|---|"]
    lines += [f"| `{role.value}` | {ROLE_DESCRIPTIONS[role]} |" for role in roles]
    lines += ["", "| permission | " + " | ".join(r.value for r in roles) + " | API key scope |"]
    lines.append("|---|" + "---|" * (len(roles) + 1))
    for permission in Permission:
        if permission is Permission.PUBLIC:  # needs no grant: anyone may use public pages
            continue
        cells = ["yes" if permission in ROLE_PERMISSIONS[role] else "" for role in roles]
        cells.append("yes" if permission in API_KEY_SCOPES else "")
        lines.append(f"| `{permission.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def test_the_role_tables_match_the_code(text: str) -> None:
    block = ROLES_BLOCK.search(text)
    assert block is not None, "the roles block markers are missing from docs/security.md"
    assert block.group(1) == role_tables(), "regenerate the role tables from roles.py"


def test_every_setting_named_exists(text: str) -> None:
    named = set(re.findall(r"OPENDPO_([A-Z_]+)", text))
    fields = {name.upper() for name in Settings.model_fields}
    assert named, "the page names no settings"
    assert named <= fields, f"not settings: {sorted(named - fields)}"


def test_every_command_named_exists(text: str) -> None:
    commands = re.findall(r"`(opendpo [a-z][^`]*)`", text)
    commands += re.findall(r"^(opendpo [a-z].*?)(?:\s+#.*)?$", text, re.MULTILINE)
    assert len(commands) > 10
    for written in commands:
        command: click.Command = cli
        for word in shlex.split(written)[1:]:
            if word.startswith("-") or not isinstance(command, click.Group):
                break
            found = command.get_command(click.Context(command), word)
            assert found is not None, f"`{written}`: no command '{word}'"
            command = found
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        for word in shlex.split(written):
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"`{written}`: no option {word}"


def test_every_link_purpose_is_documented(text: str) -> None:
    for purpose in LINK_LIFETIMES:
        assert f"| `{purpose}` |" in text, purpose
