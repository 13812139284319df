"""Acceptance: rotate keys, restart, read everything; resume an interrupted re-encryption."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, text

from opendpo.security import audit, rotation
from opendpo.security.keyring import Keyring, read_key_file
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.subjects.people import Person, find_or_create_person

Run = Callable[..., Result]
People = dict[str, tuple[str, str]]  # person id -> (name, email)


@pytest.fixture
def file_env(tmp_path: Path) -> dict[str, str | None]:
    """Keys from a key file rather than the environment, as `keys rotate` needs."""
    return {
        "OPENDPO_ENCRYPTION_KEYS": None,
        "OPENDPO_MAC_KEY": None,
        "OPENDPO_KEY_FILE": str(tmp_path / "keys.json"),
    }


def key_file(env: dict[str, str | None]) -> Path:
    return Path(str(env["OPENDPO_KEY_FILE"]))


def fresh_engine(url: str, keyring: Keyring) -> Engine:
    """A new engine with keys read again, as after a restart."""
    return make_engine(url, keyring=keyring)


def store_people(url: str, keyring: Keyring, count: int) -> People:
    engine = fresh_engine(url, keyring)
    people: People = {}
    try:
        with make_session_factory(engine)() as session:
            for number in range(count):
                name, email = f"Person {number}", f"person{number}@example.com"
                person = find_or_create_person(
                    session=session, keyring=keyring, identities=[("email", email)], name=name
                )
                people[person.id] = (name, email)
            session.commit()
    finally:
        engine.dispose()
    return people


def read_people(url: str, keyring: Keyring) -> People:
    engine = fresh_engine(url, keyring)
    try:
        with make_session_factory(engine)() as session:
            return {
                person.id: (str(person.name), person.identities[0].value)
                for person in session.query(Person)
            }
    finally:
        engine.dispose()


def usage(url: str, keyring: Keyring) -> dict[str, int]:
    engine = fresh_engine(url, keyring)
    try:
        found = rotation.key_usage(engine, keyring)
    finally:
        engine.dispose()
    assert found.unknown == 0
    return found.counts


def set_up(run: Run, env: dict[str, str | None]) -> None:
    assert run("keys", "init", env=env).exit_code == 0
    assert run("db", "upgrade", env=env).exit_code == 0


def test_encrypted_columns_are_found_across_the_schema() -> None:
    names = {column.name for column in rotation.encrypted_columns()}
    assert {"people.name", "identities.value", "staff_users.display_name"} <= names


def test_rotate_restart_read_everything_then_retire(
    run: Run, database_url: str, file_env: dict[str, str | None]
) -> None:
    set_up(run, file_env)
    people = store_people(database_url, read_key_file(key_file(file_env)), 7)
    added = run("users", "add", "dpo", "--role", "dpo", "--name", "Dee", env=file_env)
    assert added.exit_code == 0, added.output

    rotated = run("keys", "rotate", "--batch-size", "3", env=file_env)
    assert rotated.exit_code == 0, rotated.output
    assert "added key 'k2'" in rotated.stdout
    assert "re-encrypted 15 values under 'k2'" in rotated.stdout  # 7 names, 7 emails, 1 staff

    keyring = read_key_file(key_file(file_env))
    assert (keyring.active_key_id, set(keyring.encryption_keys)) == ("k2", {"k1", "k2"})
    assert read_people(database_url, keyring) == people
    assert usage(database_url, keyring) == {"k1": 0, "k2": 15}
    listing = run("keys", "list", env=file_env)
    rows = [line.split("│")[1:4] for line in listing.stdout.splitlines() if "│" in line]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["k1", "", "0"],
        ["k2", "yes", "15"],
    ]

    retired = run("keys", "retire", "k1", env=file_env)
    assert retired.exit_code == 0, retired.output
    keyring = read_key_file(key_file(file_env))
    assert set(keyring.encryption_keys) == {"k2"}
    assert read_people(database_url, keyring) == people

    engine = fresh_engine(database_url, keyring)
    try:
        with make_session_factory(engine)() as session:
            actions = [e.action for e in audit.search(session=session, query=audit.AuditQuery())]
            assert audit.verify(session=session, keyring=keyring).ok
    finally:
        engine.dispose()
    # `keys init` ran before the store existed, so only the later changes are in the log.
    assert actions == ["keys.retired", "keys.reencrypted", "keys.rotated", "staff.created"]


class Interrupted(Exception):
    pass


def test_an_interrupted_reencryption_is_finished_by_keys_reencrypt(
    run: Run, database_url: str, file_env: dict[str, str | None]
) -> None:
    set_up(run, file_env)
    people = store_people(database_url, read_key_file(key_file(file_env)), 10)
    assert run("keys", "rotate", "--no-reencrypt", env=file_env).exit_code == 0
    keyring = read_key_file(key_file(file_env))

    def kill_after_first_batch(_done: int) -> None:
        raise Interrupted

    engine = fresh_engine(database_url, keyring)
    try:
        with pytest.raises(Interrupted):
            rotation.reencrypt(engine, keyring, batch_size=4, on_batch=kill_after_first_batch)
    finally:
        engine.dispose()
    assert usage(database_url, keyring) == {"k1": 16, "k2": 4}  # the first batch committed

    refused = run("keys", "retire", "k1", env=file_env)
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: 16 stored values are still encrypted under 'k1': "
        "run `opendpo keys reencrypt` first\n"
    )
    assert set(read_key_file(key_file(file_env)).encryption_keys) == {"k1", "k2"}

    finished = run("keys", "reencrypt", env=file_env)
    assert finished.exit_code == 0, finished.output
    assert "re-encrypted 16 values under 'k2'" in finished.stdout
    assert usage(database_url, keyring) == {"k1": 0, "k2": 20}
    assert read_people(database_url, keyring) == people
    again = run("keys", "reencrypt", env=file_env)
    assert "re-encrypted 0 values" in again.stdout


@dataclass(frozen=True)
class InterferingKeyring(Keyring):
    """Lets the 'app' write a new value between the batch's read and its update."""

    interfere: Callable[[], None] = lambda: None

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        self.interfere()
        return super().encrypt(plaintext, context=context)


def test_a_value_changed_meanwhile_is_not_overwritten(
    run: Run, database_url: str, file_env: dict[str, str | None]
) -> None:
    set_up(run, file_env)
    old = read_key_file(key_file(file_env))
    people = store_people(database_url, old, 1)
    person_id = next(iter(people))
    assert run("keys", "rotate", "--no-reencrypt", env=file_env).exit_code == 0
    new = read_key_file(key_file(file_env))
    app = fresh_engine(database_url, old)  # an app not yet restarted: it writes under k1
    calls: list[int] = []

    def app_renames_the_person() -> None:
        if calls:
            return
        calls.append(1)
        with make_session_factory(app)() as session, session.begin():
            person = session.get(Person, person_id)
            assert person is not None
            person.name = "Renamed Meanwhile"

    keyring = InterferingKeyring(
        new.encryption_keys, new.active_key_id, new.mac_key, app_renames_the_person
    )
    engine = fresh_engine(database_url, new)
    try:
        result = rotation.reencrypt(engine, keyring, batch_size=1)
        assert result.changed_meanwhile == 1
        assert result.remaining == 1  # the app's new value, still under k1
        assert rotation.reencrypt(engine, new).remaining == 0
    finally:
        engine.dispose()
        app.dispose()
    assert read_people(database_url, new)[person_id][0] == "Renamed Meanwhile"


def test_rotation_after_changing_the_environment_keys(
    run: Run, engine: Engine, keyring: Keyring, settings: Settings
) -> None:
    with make_session_factory(engine)() as session:
        find_or_create_person(
            session=session, keyring=keyring, identities=[("email", "a@example.com")], name="A"
        )
        session.commit()
    assert settings.encryption_keys is not None
    new_key = base64.b64encode(bytes(range(50, 82))).decode()
    new_keys = f"t2:{new_key},{settings.encryption_keys.get_secret_value()}"
    env: dict[str, str | None] = {"OPENDPO_ENCRYPTION_KEYS": new_keys}
    refused = run("keys", "rotate", env=env)
    assert refused.exit_code == 1
    assert "the keys come from OPENDPO_ENCRYPTION_KEYS" in refused.stderr
    done = run("keys", "reencrypt", env=env)
    assert done.exit_code == 0, done.output
    assert "re-encrypted 2 values under 't2'" in done.stdout
    with engine.connect() as connection:
        values = connection.execute(text("SELECT value FROM identities")).scalars().all()
    assert all(value.startswith("t2.") for value in values)
    retire = run("keys", "retire", "t1", env=env)
    assert retire.exit_code == 0, retire.output
    assert "remove it from OPENDPO_ENCRYPTION_KEYS" in retire.stdout


def test_retiring_the_active_or_an_unknown_key_is_refused(
    run: Run, file_env: dict[str, str | None]
) -> None:
    set_up(run, file_env)
    active = run("keys", "retire", "k1", env=file_env)
    assert active.exit_code == 1
    assert "'k1' is the active key: rotate to a new key before retiring it" in active.stderr
    unknown = run("keys", "retire", "k7", env=file_env)
    assert unknown.exit_code == 1
    assert "there is no key 'k7' (keys: k1)" in unknown.stderr
