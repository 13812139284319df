"""Alembic environment: the engine comes from the caller (see opendpo.store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from opendpo.store.registry import schema

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a SQLite table by copy and drop, which a table referenced by
        # foreign keys would refuse; the pragma only changes outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=schema(),
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
