"""Acceptance: no personal data value can be read from the store's files or a dump of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from opendpo.security.keyring import Keyring
from opendpo.subjects.people import find_or_create_person, find_person

EMAIL = "zebediah.quartermaine@example.com"
PHONE = "+44 7700 900461"
NAME = "Zebediah Quartermaine"
PG_DUMP = "/usr/bin/pg_dump"
# Every spelling a reader might search for, lowercased: the raw bytes are lowercased too.
NEEDLES = [
    EMAIL,
    NAME.lower(),
    "zebediah",
    "quartermaine",
    PHONE,
    "+447700900461",
    "7700900461",
    "7700 900461",
]


def raw_store(engine: Engine) -> bytes:
    """Everything the store holds as bytes: the SQLite files, or a pg_dump of PostgreSQL."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        database = Path(str(url.database))
        files = [database, database.with_name(database.name + "-wal")]
        return b"".join(path.read_bytes() for path in files if path.exists())
    libpq = make_url(url.render_as_string(hide_password=False)).set(drivername="postgresql")
    dump = subprocess.run(
        [PG_DUMP, "--no-owner", libpq.render_as_string(hide_password=False)],
        capture_output=True,
        check=True,
    )
    return dump.stdout


def test_personal_data_is_not_in_the_store_in_plain_text(
    engine: Engine, session: Session, keyring: Keyring
) -> None:
    person = find_or_create_person(
        session=session,
        keyring=keyring,
        identities=[("email", EMAIL), ("phone", PHONE)],
        name=NAME,
    )
    session.commit()

    raw = raw_store(engine).lower()
    # The dump really holds the rows: their ids are there, only the values are sealed.
    assert person.id.encode() in raw
    for needle in NEEDLES:
        assert needle.lower().encode() not in raw, needle
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT value FROM identities")).scalars().all()
    assert len(stored) == 2
    assert all(value.startswith(f"{keyring.active_key_id}.") for value in stored)


def test_the_blind_index_finds_the_person_by_any_spelling(
    session: Session, keyring: Keyring
) -> None:
    person = find_or_create_person(
        session=session,
        keyring=keyring,
        identities=[("email", EMAIL), ("phone", PHONE)],
        name=NAME,
    )
    session.commit()
    for kind, spelling in [
        ("email", "Zebediah.Quartermaine@EXAMPLE.com"),
        ("email", f"  {EMAIL.upper()} "),
        ("phone", "07700 900461"),
        ("phone", "+447700900461"),
    ]:
        found = find_person(session=session, keyring=keyring, kind=kind, value=spelling)
        assert found is not None, spelling
        assert found.id == person.id
        assert found.name == NAME
    assert (
        find_person(session=session, keyring=keyring, kind="email", value="z@example.com") is None
    )
