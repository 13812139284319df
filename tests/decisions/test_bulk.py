"""The bulk decision engine: the same answers as `decide`, streamed, in order, chunk by chunk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agreement import NOW, PROOF, Use, bulk, copies_for_people, populate, single
from sqlalchemy.orm import Session

from opendpo.consent.ledger import Channel, ConsentState, append
from opendpo.decisions.bulk import BulkOutcome, RowIndexer, decide_many, fast_email
from opendpo.decisions.chunk_facts import MIN_CHUNK_FOR_PEOPLE
from opendpo.decisions.rules import Reason
from opendpo.errors import InvalidValue
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.subjects.identities import normalise
from opendpo.subjects.people import find_or_create_person

ROOT = Path(__file__).resolve().parents[2]
# Consent, contract, legitimate interests, sharing with a controller, a cookie category, and
# channels with and without suppression.
USES: list[Use] = [
    ("marketing", "email", None, False),
    ("marketing", "phone", None, False),
    ("marketing", "post", "crm_provider", False),
    ("marketing", "sms", None, False),
    ("client_contracts", "email", None, False),
    ("group_sharing", "email", "affiliate_smartspace", True),
    ("credit_checks", "phone", "courier", False),
    ("analytics", "cookie", None, True),
]
CONSENTS = [
    ("marketing", Channel.EMAIL),
    ("marketing", Channel.PHONE),
    ("marketing", Channel.POST),
    ("marketing", Channel.SMS),
    ("client_contracts", Channel.EMAIL),
    ("group_sharing", Channel.EMAIL),
    ("credit_checks", Channel.PHONE),
    ("analytics", Channel.COOKIE),
]


@pytest.fixture(scope="module")
def policy() -> PolicyDocument:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document


def test_bulk_agrees_with_single_decisions(
    session: Session, keyring: Keyring, policy: PolicyDocument
) -> None:
    rows = populate(
        session,
        keyring,
        300,
        seed=4,
        consents=CONSENTS,
        flag_purposes=["marketing", "group_sharing", "credit_checks"],
    )
    seen: set[tuple[bool, tuple[Reason, ...]]] = set()
    for use in USES:
        expected = [single(session, keyring, policy, row, use) for row in rows]
        # Chunks of 37 rows mix identity kinds and malformed rows, and pass through the
        # overlapped look-ups of many chunks; the list repeated into one chunk of thousands,
        # next to a few suppressions, finds the suppressed people as a set (PostgreSQL).
        for copies, chunk_size in ((1, 37), (copies_for_people(rows), MIN_CHUNK_FOR_PEOPLE)):
            outcomes = bulk(session, keyring, policy, rows * copies, use, chunk_size=chunk_size)
            for outcome, wanted in zip(outcomes, expected * copies, strict=True):
                assert outcome == wanted, (use, chunk_size, outcome)
                seen.add((outcome.allowed, outcome.reasons))
    # The data must exercise the rules, or agreeing would prove little.
    reasons = {reason for _, listed in seen for reason in listed}
    assert set(Reason) <= reasons
    assert (True, ()) in seen


def _marketing(
    session: Session, keyring: Keyring, policy: PolicyDocument, rows: object, **options: object
) -> Iterator[BulkOutcome]:
    return decide_many(
        session=session,
        keyring=keyring,
        policy=policy,
        purpose="marketing",
        channel="email",
        rows=rows,  # type: ignore[arg-type]
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


def _consenting(session: Session, keyring: Keyring, number: int) -> str:
    email = f"fan{number}@example.co.uk"
    person = find_or_create_person(session=session, keyring=keyring, identities=[("email", email)])
    append(
        session=session,
        keyring=keyring,
        person_id=person.id,
        purpose="marketing",
        channel=Channel.EMAIL,
        state=ConsentState.GIVEN,
        proof=PROOF,
        notice_version="1.0",
        policy_version=1,
        wording=None,
        now=NOW,
    )
    return email


def test_order_malformed_rows_and_chunk_boundaries(
    session: Session, keyring: Keyring, policy: PolicyDocument
) -> None:
    fans = [_consenting(session, keyring, n) for n in range(4)]
    rows = [
        ("email", fans[0]),
        ("email", "nobody@example.org"),
        ("email", "not an address"),
        ("email", fans[1].upper()),
        ("fax", "01234 567890"),
        ("email", fans[2]),
        ("email", "nobody2@example.org"),
        ("phone", "12"),
        ("email", fans[3]),
        ("email", fans[0]),
    ]
    outcomes = list(_marketing(session, keyring, policy, rows, chunk_size=3))
    assert [(o.kind, o.value) for o in outcomes] == rows  # input order, values as given
    assert [o.allowed for o in outcomes] == [
        True,
        False,
        False,
        True,
        False,
        True,
        False,
        False,
        True,
        True,
    ]
    assert outcomes[1].reasons == (Reason.NO_CONSENT,) and outcomes[1].error is None
    assert outcomes[0].person_id is not None and outcomes[0].person_id == outcomes[9].person_id
    errors = {i: o.error for i, o in enumerate(outcomes) if o.error}
    assert sorted(errors) == [2, 4, 7]
    assert errors[2] is not None and errors[2].startswith("identity.value: ")
    assert errors[4] == (
        "identity.kind: 'fax' is not an identity kind (email, phone, customer_id, cookie_id)"
    )
    assert errors[7] == "identity.value: is not a valid telephone number"
    assert all(outcomes[i].reasons == () and outcomes[i].person_id is None for i in errors)


@pytest.mark.parametrize(
    ("field", "options"),
    [
        ("purpose", {"purpose": "astrology"}),
        ("channel", {"channel": "pigeon"}),
        ("recipient", {"recipient": "nobody"}),
    ],
)
def test_an_unknown_use_is_refused_before_any_row_is_read(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    field: str,
    options: dict[str, str],
) -> None:
    def rows() -> Iterator[tuple[str, str]]:
        raise AssertionError("a row was read")
        yield ("email", "x@example.org")  # pragma: no cover

    with pytest.raises(InvalidValue) as raised:
        decide_many(
            session=session,
            keyring=keyring,
            policy=policy,
            purpose=options.get("purpose", "marketing"),
            channel=options.get("channel", "email"),
            recipient=options.get("recipient"),
            rows=rows(),
        )
    assert raised.value.field == field


def test_rows_are_read_lazily_at_most_two_chunks_ahead(
    session: Session, keyring: Keyring, policy: PolicyDocument
) -> None:
    fan = _consenting(session, keyring, 0)
    read = 0

    def rows() -> Iterator[tuple[str, str]]:
        nonlocal read
        for number in range(1_000_000):
            read += 1
            yield ("email", fan if number % 2 else f"other{number}@example.org")

    # Chunk by chunk (on PostgreSQL a long list is otherwise loaded whole first).
    stream = _marketing(session, keyring, policy, rows(), chunk_size=4, whole=False)
    assert read == 0  # nothing is read until the first outcome is asked for
    first = next(stream)
    # The first chunk is decided while the second and third are hashed.
    assert first.allowed is False and read == 12
    taken = [first] + [next(stream) for _ in range(8)]
    assert [o.allowed for o in taken] == [False, True] * 4 + [False]
    assert read == 20  # outcomes from the third chunk: the fifth has been read, no more


TRICKY_EMAILS = [
    "jane@example.co.uk",
    "Jane.Doe+news@Example.COM",
    "  padded@example.org  ",
    "o'brien@example.ie",
    "a!#$%&'*+/=?^_`{|}~-z@example.com",
    "Postmaster@EXAMPLE.com",
    "x@sub-domain.example.co.uk",
    "x@xn--bcher-kva.example",
    "x@bücher.example",
    "jörg@example.de",
    '"quoted"@example.com',
    "Name <name@example.com>",
    "two@@example.com",
    ".lead@example.com",
    "trail.@example.com",
    "dou..ble@example.com",
    "x@-hyphen.example.com",
    "x@hyphen-.example.com",
    "x@example..com",
    "x@example.com.",
    "x@localhost",
    "x@example.local",
    "x@example.test",
    "x@example.invalid",
    "x@123.456",
    "x@example",
    "x@[192.0.2.1]",
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "x@" + "a" * 63 + ".com",
    "x@" + "a" * 64 + ".com",
    "x" * 60 + "@" + ".".join(["abcdefghij" * 6] * 3) + ".com",
    "",
    "no-at-sign",
]


@pytest.mark.parametrize("value", TRICKY_EMAILS)
def test_the_fast_email_path_agrees_with_normalise(keyring: Keyring, value: str) -> None:
    """The bulk path's shortcut for plain addresses must find exactly whom `normalise` finds."""
    try:
        expected = keyring.blind_index("email", normalise("email", value, field="identity.value"))
    except InvalidValue as exc:
        with pytest.raises(InvalidValue) as raised:
            RowIndexer(keyring)("email", value)
        assert raised.value.message == exc.message
        assert fast_email(value) is None
        return
    assert RowIndexer(keyring)("email", value) == expected
    shortcut = fast_email(value)
    assert shortcut is None or shortcut == normalise("email", value)


def test_plain_addresses_take_the_fast_path() -> None:
    # Otherwise the shortcut could silently stop being used and nobody would notice.
    assert fast_email(" Jane.Doe+news@Example.COM ") == "jane.doe+news@example.com"


def test_a_chunk_beyond_sqlites_bound_parameter_limit(
    session: Session, keyring: Keyring, policy: PolicyDocument
) -> None:
    # SQLite refuses more than 32,766 bound parameters a statement; a chunk's addresses are
    # bound as one parameter, so the chunk size is limited by memory alone.
    fan = _consenting(session, keyring, 0)
    rows = [("email", f"someone{n}@example.org") for n in range(33_000)] + [("email", fan)]
    outcomes = list(_marketing(session, keyring, policy, rows, chunk_size=40_000))
    assert [o.allowed for o in outcomes].count(True) == 1 and outcomes[-1].allowed
    assert outcomes[0].reasons == (Reason.NO_CONSENT,)


def test_rows_no_store_could_hold_are_handed_back_as_given(
    session: Session, keyring: Keyring, policy: PolicyDocument
) -> None:
    fan = _consenting(session, keyring, 0)
    rows = [
        ("email", fan),
        ("email", "nul\x00@example.com"),  # PostgreSQL text refuses a NUL
        ("fa\x00x", "01234 567890"),
        ("email", "lone\ud800@example.com"),  # not encodable as UTF-8 as it stands
        ("email", fan),
    ]
    # Over one chunk: on PostgreSQL the list goes through a temporary table.
    outcomes = list(_marketing(session, keyring, policy, rows, chunk_size=2))
    assert [(o.kind, o.value) for o in outcomes] == rows
    assert [o.allowed for o in outcomes] == [True, False, False, False, True]
    assert [o.error is not None for o in outcomes] == [False, True, True, True, False]
    assert outcomes[2].error is not None and "fa\x00x" in outcomes[2].error
