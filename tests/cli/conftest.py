"""Run the `opendpo` command in-process against the test store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from opendpo.cli import cli
from opendpo.settings import Settings


@pytest.fixture
def run(settings: Settings) -> Callable[..., Result]:
    """Invoke `opendpo ARGS...` with OPENDPO_* pointing at this test's empty store."""
    runner = CliRunner(
        env={
            "OPENDPO_DATABASE_URL": settings.database_url,
            "OPENDPO_SECRET_KEY": settings.secret_key.get_secret_value(),
            # Whatever the developer's shell says, tests run outside demo mode.
            "OPENDPO_DEMO": None,
        }
    )

    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        return runner.invoke(cli, list(args), env=env)

    return invoke
