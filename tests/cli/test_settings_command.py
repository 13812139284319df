"""`opendpo settings` shows every setting but never a secret; unsafe secrets are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

from opendpo.settings import (
    DEMO_SECRET_KEY,
    MIN_SECRET_LENGTH,
    Settings,
    SettingsError,
    load_settings,
)

Run = Callable[..., Result]


def test_settings_lists_variables_and_hides_the_secret(run: Run, settings: Settings) -> None:
    result = run("settings")
    assert result.exit_code == 0, result.output
    for name in Settings.model_fields:
        assert f"OPENDPO_{name.upper()}" in result.stdout
    assert settings.secret_key.get_secret_value() not in result.stdout
    assert DEMO_SECRET_KEY not in result.stdout
    secret_row = next(line for line in result.stdout.splitlines() if "OPENDPO_SECRET_KEY" in line)
    assert "(set)" in secret_row


def test_demo_secret_is_refused_outside_demo_mode(run: Run) -> None:
    result = run("settings", env={"OPENDPO_SECRET_KEY": None})
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: OPENDPO_SECRET_KEY is the published demo secret; set a secret of your own "
        f"(at least {MIN_SECRET_LENGTH} characters) or set OPENDPO_DEMO=1\n"
    )


def test_demo_secret_is_accepted_in_demo_mode(run: Run) -> None:
    result = run("settings", env={"OPENDPO_SECRET_KEY": None, "OPENDPO_DEMO": "1"})
    assert result.exit_code == 0, result.output
    demo_row = next(line for line in result.stdout.splitlines() if "OPENDPO_DEMO" in line)
    assert "True" in demo_row


def test_short_secret_is_refused(run: Run) -> None:
    result = run("settings", env={"OPENDPO_SECRET_KEY": "x" * (MIN_SECRET_LENGTH - 1)})
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: OPENDPO_SECRET_KEY is too short; use at least {MIN_SECRET_LENGTH} characters\n"
    )


def test_store_commands_also_refuse_an_unsafe_secret(run: Run) -> None:
    result = run("db", "status", env={"OPENDPO_SECRET_KEY": "short"})
    assert result.exit_code == 1
    assert "OPENDPO_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.output


def test_invalid_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENDPO_DEMO", raising=False)
    monkeypatch.setenv("OPENDPO_SECRET_KEY", "s" * MIN_SECRET_LENGTH)
    monkeypatch.setenv("OPENDPO_PORT", "99999")
    with pytest.raises(SettingsError, match=r"^OPENDPO_PORT: "):
        load_settings()


def test_secret_is_masked_in_repr(settings: Settings) -> None:
    assert settings.secret_key.get_secret_value() not in repr(settings)
