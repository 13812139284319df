"""Encrypted columns in the store: values round-trip, and tampered or moved ciphertext fails."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from opendpo.security.errors import KeyProblem
from opendpo.security.keyring import Keyring
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.subjects.people import Identity, Person, find_or_create_person


def make_person(session: Session, keyring: Keyring) -> str:
    person = find_or_create_person(
        session=session,
        keyring=keyring,
        identities=[("email", "ada@example.com")],
        name="Ada Lovelace",
    )
    session.commit()
    return person.id


def read_name(engine: Engine, person_id: str) -> str | None:
    with make_session_factory(engine)() as session:
        person = session.get(Person, person_id)
        assert person is not None
        return person.name


def test_values_round_trip_and_are_stored_as_ciphertext(
    engine: Engine, session: Session, keyring: Keyring
) -> None:
    person_id = make_person(session, keyring)
    assert read_name(engine, person_id) == "Ada Lovelace"
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT name FROM people WHERE id = :id"), {"id": person_id}
        ).scalar_one()
    assert stored.startswith(f"{keyring.active_key_id}.")
    assert "Ada" not in stored


def test_tampered_value_is_refused(engine: Engine, session: Session, keyring: Keyring) -> None:
    person_id = make_person(session, keyring)
    with engine.begin() as connection:
        stored = connection.execute(
            text("SELECT name FROM people WHERE id = :id"), {"id": person_id}
        ).scalar_one()
        tampered = stored[:-2] + ("AA" if not stored.endswith("AA") else "BB")
        connection.execute(
            text("UPDATE people SET name = :v WHERE id = :id"), {"v": tampered, "id": person_id}
        )
    with pytest.raises(KeyProblem, match=r"'people\.name' failed authentication"):
        read_name(engine, person_id)


def test_value_moved_to_another_column_is_refused(
    engine: Engine, session: Session, keyring: Keyring
) -> None:
    # An attacker with write access copies an email's ciphertext over a name: it must not open.
    person_id = make_person(session, keyring)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE people SET name = (SELECT value FROM identities WHERE person_id = :id) "
                "WHERE id = :id"
            ),
            {"id": person_id},
        )
    with pytest.raises(KeyProblem, match=r"'people\.name' failed authentication"):
        read_name(engine, person_id)


def test_an_engine_without_keys_fails_clearly(
    engine: Engine, session: Session, keyring: Keyring
) -> None:
    person_id = make_person(session, keyring)
    bare = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with pytest.raises(KeyProblem, match="no keys were loaded: run `opendpo keys init`"):
            read_name(bare, person_id)
    finally:
        bare.dispose()


def test_identity_values_are_stored_normalised_and_encrypted(
    engine: Engine, session: Session, keyring: Keyring
) -> None:
    make_person(session, keyring)
    with make_session_factory(engine)() as other:
        identity = other.query(Identity).one()
        assert identity.value == "ada@example.com"
        assert identity.blind_index == keyring.blind_index("email", "ada@example.com")
