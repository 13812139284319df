"""The store's engine: SQLite in WAL mode with foreign keys; PostgreSQL always through psycopg 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from opendpo.store.engine import make_engine, normalise_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p%40ss@db.example:5432/opendpo",
            "postgresql+psycopg://u:p%40ss@db.example:5432/opendpo",
        ),
        ("postgresql://u:secret@db/opendpo", "postgresql+psycopg://u:secret@db/opendpo"),
        ("postgresql+psycopg://u@db/opendpo", "postgresql+psycopg://u@db/opendpo"),
        ("sqlite:///var/opendpo.db", "sqlite:///var/opendpo.db"),
    ],
)
def test_urls_are_normalised_to_psycopg(given: str, expected: str) -> None:
    # The password survives: the engine needs it, only display hides it.
    assert normalise_url(given) == expected


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'store.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "store.db").exists()


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            connection.execute(
                text("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id REFERENCES parent)")
            )
        with pytest.raises(IntegrityError, match="FOREIGN KEY"), engine.begin() as connection:
            connection.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 42)"))
    finally:
        engine.dispose()
