"""`opendpo keys init` and the errors every keys command gives for bad key settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Run = Callable[..., Result]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "keys.json"


@pytest.fixture
def env(path: Path) -> dict[str, str | None]:
    return {"OPENDPO_ENCRYPTION_KEYS": None, "OPENDPO_MAC_KEY": None, "OPENDPO_KEY_FILE": str(path)}


def test_init_writes_an_owner_only_key_file_and_audits_when_the_store_exists(
    run: Run, path: Path, env: dict[str, str | None]
) -> None:
    assert run("db", "upgrade", env=env).exit_code == 0
    result = run("keys", "init", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote new keys to {path} (mode 0600)")
    assert path.stat().st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())
    assert data["active"] == "k1"
    assert set(data) == {"version", "active", "encryption_keys", "mac_key"}
    listed = run("audit", "list", "--action", "keys.", env=env)
    assert "keys.initialised" in listed.stdout


def test_init_refuses_to_overwrite(run: Run, path: Path, env: dict[str, str | None]) -> None:
    assert run("keys", "init", env=env).exit_code == 0
    before = path.read_text()
    again = run("keys", "init", env=env)
    assert again.exit_code == 1
    assert again.stderr.startswith(f"Error: a key file already exists at {path}: refusing")
    assert path.read_text() == before
    if_missing = run("keys", "init", "--if-missing", env=env)
    assert if_missing.exit_code == 0
    assert if_missing.stdout == f"a key file already exists at {path}; keeping it\n"
    assert path.read_text() == before


def test_init_refuses_when_keys_come_from_the_environment(run: Run, path: Path) -> None:
    result = run("keys", "init", env={"OPENDPO_KEY_FILE": str(path)})
    assert result.exit_code == 1
    assert "the keys come from OPENDPO_ENCRYPTION_KEYS" in result.stderr
    assert not path.exists()


def test_a_world_readable_key_file_is_a_clear_error(
    run: Run, path: Path, env: dict[str, str | None]
) -> None:
    assert run("keys", "init", env=env).exit_code == 0
    path.chmod(0o644)
    result = run("keys", "list", env=env)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the key file {path} is readable by other users: chmod 600 {path}\n"
    )


def test_bad_environment_keys_are_a_clear_error(run: Run) -> None:
    result = run("keys", "list", env={"OPENDPO_ENCRYPTION_KEYS": "k1:no pe!"})
    assert result.exit_code == 1
    assert result.stderr == "Error: OPENDPO_ENCRYPTION_KEYS key 'k1' is not valid base64\n"
    assert "Traceback" not in result.output


def test_commands_needing_keys_say_how_to_make_them(run: Run, env: dict[str, str | None]) -> None:
    assert run("db", "upgrade", env=env).exit_code == 0  # works before any key exists
    result = run("users", "add", "ann", "--role", "agent", env=env)
    assert result.exit_code == 1
    assert "create one with `opendpo keys init`" in result.stderr


def test_rotate_names_a_bad_key_id(run: Run, env: dict[str, str | None]) -> None:
    assert run("keys", "init", env=env).exit_code == 0
    assert run("db", "upgrade", env=env).exit_code == 0
    bad = run("keys", "rotate", "--key-id", "K 2", env=env)
    assert bad.exit_code == 2
    assert "Invalid value for '--key-id': use 1-16 of a-z, 0-9 and '-'" in bad.stderr
    taken = run("keys", "rotate", "--key-id", "k1", env=env)
    assert taken.exit_code == 1
    assert taken.stderr == "Error: --key-id: there is already a key 'k1'\n"
