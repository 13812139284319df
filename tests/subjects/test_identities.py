"""One normal form per identity, so that every spelling of a person hashes the same."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from opendpo.errors import DomainError, InvalidValue
from opendpo.security.keyring import Keyring
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.subjects.people import find_or_create_person, find_person


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("email", "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("email", "jane@bücher.example", "jane@bücher.example"),
        ("phone", "07700 900123", "+447700900123"),
        ("phone", "+44 (0)7700 900123", "+447700900123"),
        ("phone", "+1 202-555-0143", "+12025550143"),
        ("customer_id", " C-1001 ", "C-1001"),
        ("cookie_id", "b8f6e0c2", "b8f6e0c2"),
    ],
)
def test_normal_forms(kind: str, given: str, expected: str) -> None:
    assert normalise(kind, given) == expected


@pytest.mark.parametrize(
    ("kind", "given", "field", "words"),
    [
        ("email", "not-an-email", "email", "@"),
        ("email", "   ", "email", "empty"),
        ("phone", "call me", "phone", "not a telephone number"),
        ("phone", "+44 12", "phone", "not a valid"),
        ("customer_id", "has space", "customer_id", "no spaces"),
        ("fingerprint", "x", "kind", "not an identity kind"),
    ],
)
def test_malformed_identities_name_the_field(kind: str, given: str, field: str, words: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        normalise(kind, given)
    assert caught.value.field == field
    assert words in caught.value.detail


def test_a_caller_may_name_the_field_as_its_form_does() -> None:
    with pytest.raises(InvalidValue) as caught:
        normalise(IdentityKind.EMAIL, "nope", field="identities.0.value")
    assert caught.value.field == "identities.0.value"


def test_any_spelling_finds_the_person(session: Session, keyring: Keyring) -> None:
    with session.begin():
        person = find_or_create_person(
            session=session,
            keyring=keyring,
            identities=[("email", "Jane.Doe@example.com"), ("phone", "07700 900123")],
            name="Jane Doe",
        )
    for kind, spelling in [("email", "JANE.DOE@EXAMPLE.COM"), ("phone", "+447700900123")]:
        found = find_person(session=session, keyring=keyring, kind=kind, value=spelling)
        assert found is not None and found.id == person.id
    assert (
        find_person(session=session, keyring=keyring, kind="email", value="x@example.com") is None
    )


def test_a_second_identity_joins_the_person_the_first_names(
    session: Session, keyring: Keyring
) -> None:
    with session.begin():
        first = find_or_create_person(
            session=session, keyring=keyring, identities=[("email", "a@example.com")]
        )
        again = find_or_create_person(
            session=session,
            keyring=keyring,
            identities=[("email", "A@example.com"), ("customer_id", "C-7")],
            name="Ann",
        )
    assert again.id == first.id
    assert sorted(i.kind for i in again.identities) == ["customer_id", "email"]
    assert again.name == "Ann"


def test_an_identity_of_someone_else_is_refused_and_nothing_is_written(
    session: Session, keyring: Keyring
) -> None:
    with session.begin():
        find_or_create_person(
            session=session, keyring=keyring, identities=[("email", "one@example.com")]
        )
        find_or_create_person(
            session=session, keyring=keyring, identities=[("email", "two@example.com")]
        )
    with pytest.raises(DomainError, match="already belongs to another person"), session.begin():
        find_or_create_person(
            session=session,
            keyring=keyring,
            identities=[("email", "one@example.com"), ("email", "two@example.com")],
        )
    # A bad value anywhere in the list is found before the first write.
    with pytest.raises(InvalidValue), session.begin():
        find_or_create_person(
            session=session,
            keyring=keyring,
            identities=[("email", "three@example.com"), ("phone", "nonsense")],
        )
    assert (
        find_person(session=session, keyring=keyring, kind="email", value="three@example.com")
        is None
    )
