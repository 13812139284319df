"""Alembic environment: the engine comes from the caller (see opendpo.store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from opendpo.store.registry import schema

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=schema(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
