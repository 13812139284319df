"""Migrations: up and down cleanly on both engines, and exactly what the models declare."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, Table, inspect

from opendpo.store.engine import make_engine
from opendpo.store.migrate import current_revision, downgrade, head_revision, upgrade
from opendpo.store.registry import schema


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_and_downgrade_to_base(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision(empty_engine)
    assert set(schema().tables) <= tables(empty_engine)

    downgrade(empty_engine, "base")
    assert current_revision(empty_engine) is None
    assert tables(empty_engine) <= {"alembic_version"}

    upgrade(empty_engine)  # and back up again, from nothing
    assert current_revision(empty_engine) == head_revision(empty_engine)


def test_migrations_match_the_models(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, schema())
    assert differences == [], "models and migrations differ: write a migration"


def test_the_comparison_would_notice_a_missing_migration(empty_engine: Engine) -> None:
    # Guards the test above: a model with no migration must show up as a difference.
    upgrade(empty_engine)
    models = MetaData()
    for table in schema().tables.values():
        table.to_metadata(models)
    Table("unmigrated", models, Column("id", Integer, primary_key=True))
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, models)
    assert [diff[0] for diff in differences] == ["add_table"]
