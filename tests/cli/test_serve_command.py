"""`opendpo serve` passes the proxy options through to uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import Result


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'opendpo.db'}"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What uvicorn.run was called with, instead of running a server."""
    calls: dict[str, Any] = {}

    def fake_run(app: object, **options: Any) -> None:
        calls.update(options, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


def test_serve_trusts_forwarded_headers_only_from_the_named_proxies(
    run: Callable[..., Result], served: dict[str, Any]
) -> None:
    result = run("serve", "--port", "8123", "--forwarded-allow-ips", "10.0.0.5,10.0.0.6")
    assert result.exit_code == 0, result.output
    assert served["port"] == 8123
    assert served["proxy_headers"] is True
    assert served["forwarded_allow_ips"] == "10.0.0.5,10.0.0.6"


def test_serve_defaults_leave_the_trusted_proxy_to_uvicorn(
    run: Callable[..., Result], served: dict[str, Any]
) -> None:
    # uvicorn then reads $FORWARDED_ALLOW_IPS, or trusts 127.0.0.1 alone.
    assert run("serve").exit_code == 0
    assert served["proxy_headers"] is True
    assert served["forwarded_allow_ips"] is None


def test_serve_can_ignore_forwarded_headers(
    run: Callable[..., Result], served: dict[str, Any]
) -> None:
    assert run("serve", "--no-proxy-headers").exit_code == 0
    assert served["proxy_headers"] is False


def test_serve_without_keys_says_how_to_make_them(
    run: Callable[..., Result], served: dict[str, Any], tmp_path: Path
) -> None:
    result = run(
        "serve",
        env={
            "OPENDPO_ENCRYPTION_KEYS": None,
            "OPENDPO_MAC_KEY": None,
            "OPENDPO_KEY_FILE": str(tmp_path / "missing.json"),
        },
    )
    assert result.exit_code == 1
    assert "opendpo keys init" in result.stderr and "Traceback" not in result.output
    assert served == {}  # nothing was served
