"""Engines and sessions for the store: SQLite (embedded, WAL) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from opendpo.security.keyring import Keyring
from opendpo.store.encrypted import attach_keyring
from opendpo.store.pg_connection import keep_prepared_statements


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator gave."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server read while a CLI command or worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(
    url: str,
    *,
    keyring: Keyring | None = None,
    key_file: Path | None = None,
    pool_size: int = 5,
) -> Engine:
    """An engine for the store; `keyring` opens its encrypted columns (see store.encrypted).

    With `key_file` (where the keyring was read from) the engine follows key rotations.
    `pool_size` connections are kept open; up to as many again are opened under bursts.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
        keep_prepared_statements(engine)
    attach_keyring(engine.dialect, keyring, key_file)
    return engine


def make_session_factory(
    engine: Engine, *, info: dict[str, Any] | None = None
) -> sessionmaker[Session]:
    """`info` is shared by every session made (each session's own info starts as a copy)."""
    return sessionmaker(bind=engine, expire_on_commit=False, info=info)
