"""The store's PostgreSQL connections: read-only work keeps prepared statements, writes that
are not committed are still rolled back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.pg_connection import StoreConnection

pytestmark = pytest.mark.postgres

# A statement of its own, so the server's list of prepared statements shows it alone.
MARKED = text("SELECT count(*) AS prepared_marker FROM notes WHERE body <> :body")


@pytest.fixture
def store(postgres_database: str) -> Iterator[Engine]:
    """The store's engine, one pooled connection, over a table of its own."""
    setup = create_engine(postgres_database)
    with setup.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS notes"))
        connection.execute(text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
    setup.dispose()
    engine = make_engine(postgres_database, pool_size=1)
    yield engine
    engine.dispose()


def prepared(engine: Engine) -> int:
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT count(*) FROM pg_prepared_statements "
                "WHERE statement LIKE '%prepared_marker%' AND NOT from_sql"
            )
        ).scalar_one()
    return int(found)


def test_a_statement_run_in_read_only_sessions_is_prepared_and_stays_prepared(
    store: Engine,
) -> None:
    sessions = make_session_factory(store)
    for _ in range(8):
        # Each session reads and closes without committing: SQLAlchemy ends it with a
        # rollback, which plain psycopg answers by forgetting its statements.
        with sessions() as session:
            assert session.execute(MARKED, {"body": "x"}).scalar_one() == 0
    assert prepared(store) == 1
    with sessions() as session:
        session.execute(MARKED, {"body": "x"})
    assert prepared(store) == 1


def test_the_store_engine_uses_store_connections(store: Engine) -> None:
    with store.connect() as connection:
        assert isinstance(connection.connection.dbapi_connection, StoreConnection)


def test_a_write_that_is_not_committed_is_rolled_back(store: Engine) -> None:
    sessions = make_session_factory(store)
    with sessions() as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
        # closed without commit
    with sessions() as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('first')"))
        session.rollback()
        session.execute(text("INSERT INTO notes (body) VALUES ('second')"))
        session.commit()
    with store.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM notes ORDER BY id")).scalars().all()
    assert bodies == ["second"]


def test_a_write_undone_by_a_savepoint_still_rolls_the_transaction_back(store: Engine) -> None:
    sessions = make_session_factory(store)
    with sessions() as session:
        with session.begin_nested():
            session.execute(text("INSERT INTO notes (body) VALUES ('inner')"))
        session.execute(text("SELECT 1"))
        # closed without commit: the savepoint's write goes with the transaction
    with store.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0


def test_a_failed_transaction_is_rolled_back_and_the_connection_works_on(store: Engine) -> None:
    sessions = make_session_factory(store)
    with sessions() as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
        with pytest.raises(ProgrammingError):
            session.execute(text("SELECT * FROM no_such_table"))
        session.rollback()
        session.execute(text("INSERT INTO notes (body) VALUES ('after')"))
        session.commit()
    with store.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM notes")).scalars().all()
    assert bodies == ["after"]
