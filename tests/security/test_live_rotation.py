"""A running server follows a key rotation in its key file, without a restart."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from opendpo.security.keyring import Keyring, generate_keyring, read_key_file, write_key_file
from opendpo.security.rotation import add_key, reencrypt
from opendpo.store import encrypted
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import upgrade
from opendpo.subjects.people import find_or_create_person, get_person


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    write_key_file(path, generate_keyring())
    return path


@pytest.fixture(autouse=True)
def check_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine looks at the file at most once a second; the test need not wait for it.
    monkeypatch.setattr(encrypted, "CHECK_EVERY_SECONDS", 0.0)


def stored_names(url: str) -> list[str]:
    raw = make_engine(url)
    with raw.connect() as connection:
        names = [row[0] for row in connection.execute(text("SELECT name FROM people"))]
    raw.dispose()
    return names


def test_a_running_engine_reads_and_writes_under_the_new_key(
    database_url: str, key_file: Path
) -> None:
    running = make_engine(database_url, keyring=read_key_file(key_file), key_file=key_file)
    upgrade(running)
    sessions = make_session_factory(running)
    with sessions() as session, session.begin():
        before = find_or_create_person(
            session=session,
            keyring=read_key_file(key_file),
            identities=[("email", "before@example.com")],
            name="Before Rotation",
        )

    # `opendpo keys rotate`, done by another process: a new key, everything re-encrypted.
    rotated = add_key(key_file, read_key_file(key_file))
    operator = make_engine(database_url, keyring=rotated)
    result = reencrypt(operator, rotated)
    operator.dispose()
    assert result.remaining == 0
    assert all(name.startswith(f"{rotated.active_key_id}.") for name in stored_names(database_url))

    # The server that was running all along reads values under a key it was not started with...
    with sessions() as session:
        assert get_person(session=session, person_id=before.id).name == "Before Rotation"
    # ...and writes new values under the new active key.
    with sessions() as session, session.begin():
        find_or_create_person(
            session=session,
            keyring=rotated,
            identities=[("email", "after@example.com")],
            name="After Rotation",
        )
    assert {name.split(".")[0] for name in stored_names(database_url)} == {rotated.active_key_id}
    running.dispose()


def test_a_key_file_with_another_mac_key_is_refused_and_the_old_keys_stay(
    database_url: str, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = read_key_file(key_file)
    running = make_engine(database_url, keyring=original, key_file=key_file)
    upgrade(running)
    time.sleep(0.01)  # a distinct modification time
    stranger: Keyring = generate_keyring("k9")
    write_key_file(key_file, stranger)
    with caplog.at_level(logging.ERROR, logger="opendpo.store.keys"):
        assert encrypted.keyring_of(running.dialect, needed_key="k9") is original
    assert "MAC key changed" in caplog.text
    running.dispose()
