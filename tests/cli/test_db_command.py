"""`opendpo db upgrade` and `opendpo db status` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result
from sqlalchemy import inspect

from opendpo.settings import Settings
from opendpo.store.engine import make_engine
from opendpo.store.migrate import MIGRATIONS

Run = Callable[..., Result]
# The newest migration's revision: the commands must report it, whatever it is.
HEAD = sorted(p.name for p in MIGRATIONS.joinpath("versions").glob("0*.py"))[-1][:4]


def test_upgrade_creates_the_schema_then_is_a_no_op(run: Run, settings: Settings) -> None:
    first = run("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.stdout.endswith(f": upgraded from empty to {HEAD}\n")
    second = run("db", "upgrade")
    assert second.exit_code == 0, second.output
    assert second.stdout.endswith(f": already at revision {HEAD}\n")

    engine = make_engine(settings.database_url)
    try:
        assert "policy_versions" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_status_exits_1_until_upgraded(run: Run) -> None:
    before = run("db", "status")
    assert before.exit_code == 1
    assert before.stdout == (
        f"current revision: none (run `opendpo db upgrade`)\nlatest revision:  {HEAD}\n"
    )
    run("db", "upgrade")
    after = run("db", "status")
    assert after.exit_code == 0, after.output
    assert after.stdout == f"current revision: {HEAD}\nlatest revision:  {HEAD}\n"


def test_unreachable_store_is_a_clear_error(run: Run) -> None:
    # Nothing listens on port 1; the password must not appear in the message.
    url = "postgresql://opendpo:hunter22@127.0.0.1:1/opendpo"
    result = run("db", "status", env={"OPENDPO_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith(
        "Error: cannot open the store at postgresql+psycopg://opendpo:***@127.0.0.1:1/opendpo "
        "(OPENDPO_DATABASE_URL): "
    )
    assert "hunter22" not in result.output


def test_malformed_database_url_is_a_clear_error(run: Run) -> None:
    result = run("db", "upgrade", env={"OPENDPO_DATABASE_URL": "not a url"})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: OPENDPO_DATABASE_URL: ")
    assert "Traceback" not in result.output
