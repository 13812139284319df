"""`decide` against the store, on SQLite and PostgreSQL: every deny reason from real records."""

from __future__ import annotations

import datetime as dt

import pytest
from decision_policy import (
    CONTRACT,
    CONTROLLER,
    EXPIRING,
    LI_MARKETING,
    LI_PURPOSE,
    PROCESSOR,
    RENEWAL_ALLOWED,
    decision_policy,
)
from sqlalchemy.orm import Session

from opendpo.consent.ledger import (
    CollectionMethod,
    ConsentState,
    CurrentConsent,
    Proof,
)
from opendpo.consent.service import record_consent
from opendpo.consent.suppression import ALL_PURPOSES, SuppressionReason, suppress
from opendpo.decisions.decide import decide
from opendpo.decisions.rules import Reason
from opendpo.errors import InvalidValue
from opendpo.security.keyring import Keyring
from opendpo.subjects.flags import FlagKind, add_flag, lift_flag
from opendpo.subjects.people import Person, Subscriber, find_or_create_person

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
POLICY = decision_policy()
MARKETING = "marketing_email"
EMAIL = "jane@example.co.uk"
OTHER_EMAIL = "jane.work@example.co.uk"
PROOF = Proof(method=CollectionMethod.WEB_FORM, source="tests")


class Store:
    def __init__(self, session: Session, keyring: Keyring) -> None:
        self.session, self.keyring = session, keyring

    def consent(
        self,
        purpose: str,
        state: ConsentState,
        *,
        channel: str = "email",
        identities: list[tuple[str, str]] | None = None,
        at: dt.datetime = NOW - dt.timedelta(days=10),
    ) -> Person:
        person, _ = record_consent(
            session=self.session,
            keyring=self.keyring,
            policy=POLICY,
            policy_version=1,
            identities=identities or [("email", EMAIL)],
            purpose=purpose,
            channel=channel,
            state=state,
            proof=PROOF,
            now=at,
        )
        self.session.flush()
        return person

    def person(self, *identities: tuple[str, str]) -> Person:
        return find_or_create_person(
            session=self.session,
            keyring=self.keyring,
            identities=list(identities or [("email", EMAIL)]),
        )

    def decide(
        self,
        purpose: str,
        channel: str = "email",
        *,
        kind: str = "email",
        value: str = EMAIL,
        recipient: str | None = None,
        gpc: bool = False,
    ) -> tuple[Reason, ...]:
        outcome = decide(
            session=self.session,
            keyring=self.keyring,
            policy=POLICY,
            identity_kind=kind,
            identity_value=value,
            purpose=purpose,
            channel=channel,
            recipient=recipient,
            gpc=gpc,
            now=NOW,
        )
        assert outcome.decision.allowed is (not outcome.decision.reasons)
        return outcome.decision.reasons


@pytest.fixture
def store(session: Session, keyring: Keyring) -> Store:
    return Store(session, keyring)


GIVEN, WITHDRAWN, REFUSED = ConsentState.GIVEN, ConsentState.WITHDRAWN, ConsentState.REFUSED


def test_unknown_people_have_no_consent_but_contracts_go_ahead(store: Store) -> None:
    assert store.decide(MARKETING) == (Reason.NO_CONSENT,)
    assert store.decide(CONTRACT) == ()
    assert store.decide(LI_PURPOSE, kind="phone", value="07700 900123", channel="phone") == ()


def test_consent_given_withdrawn_and_refused(store: Store) -> None:
    store.person()
    assert store.decide(MARKETING) == (Reason.NO_CONSENT,)
    store.consent(MARKETING, GIVEN)
    assert store.decide(MARKETING) == ()
    assert store.decide(MARKETING, value="  JANE@Example.co.uk ") == ()  # any spelling
    store.consent(MARKETING, WITHDRAWN, at=NOW - dt.timedelta(days=1))
    assert store.decide(MARKETING) == (Reason.WITHDRAWN,)
    store.consent(MARKETING, REFUSED, at=NOW - dt.timedelta(hours=1))
    assert store.decide(MARKETING) == (Reason.REFUSED,)


def test_consent_expires_when_its_validity_has_elapsed(store: Store) -> None:
    store.consent(EXPIRING, GIVEN, at=NOW - dt.timedelta(days=300))
    assert store.decide(EXPIRING) == ()
    store.consent(EXPIRING, GIVEN, at=NOW - dt.timedelta(days=400))
    assert store.decide(EXPIRING) == (Reason.EXPIRED,)


def test_renewal_needed_denies_or_allows_as_the_purpose_says(store: Store) -> None:
    person = store.consent(EXPIRING, GIVEN)
    store.consent(RENEWAL_ALLOWED, GIVEN)
    for purpose in (EXPIRING, RENEWAL_ALLOWED):
        store.session.get_one(CurrentConsent, (person.id, purpose, "email")).needs_renewal = True
    store.session.flush()
    assert store.decide(EXPIRING) == (Reason.RENEWAL_NEEDED,)
    assert store.decide(RENEWAL_ALLOWED) == ()


def test_objection(store: Store) -> None:
    person = store.consent(MARKETING, GIVEN)
    flag = add_flag(
        session=store.session, person_id=person.id, kind=FlagKind.OBJECTION, purpose=MARKETING
    )
    assert store.decide(MARKETING) == (Reason.OBJECTION,)  # absolute, consent or not
    assert store.decide(LI_PURPOSE) == ()  # that objection was to marketing only
    lift_flag(session=store.session, flag=flag, reason="asked again")
    store.session.flush()
    assert store.decide(MARKETING) == ()
    add_flag(
        session=store.session, person_id=person.id, kind=FlagKind.OBJECTION, purpose=ALL_PURPOSES
    )
    assert store.decide(MARKETING) == (Reason.OBJECTION,)
    assert store.decide(LI_PURPOSE) == (Reason.OBJECTION,)
    assert store.decide(CONTRACT) == ()  # Art 21 does not reach a contract


def test_restriction(store: Store) -> None:
    person = store.consent(MARKETING, GIVEN)
    add_flag(session=store.session, person_id=person.id, kind=FlagKind.RESTRICTION)
    for purpose in (MARKETING, LI_PURPOSE, CONTRACT):
        assert store.decide(purpose) == (Reason.RESTRICTED,)


def test_suppressed_by_the_address_asked_about(store: Store) -> None:
    store.consent(MARKETING, GIVEN)
    suppress(
        session=store.session,
        keyring=store.keyring,
        kind="email",
        value=EMAIL.upper(),
        channel="email",
        purpose=MARKETING,
        reason=SuppressionReason.UNSUBSCRIBED,
    )
    assert store.decide(MARKETING) == (Reason.SUPPRESSED,)
    assert store.decide(CONTRACT) == ()  # the list is about marketing, not service email
    assert store.decide(MARKETING, "post") == (Reason.BASIS_DOES_NOT_COVER, Reason.NO_CONSENT)


def test_suppressed_by_another_address_of_the_person(store: Store) -> None:
    store.consent(MARKETING, GIVEN, identities=[("email", EMAIL), ("email", OTHER_EMAIL)])
    suppress(
        session=store.session,
        keyring=store.keyring,
        kind="email",
        value=OTHER_EMAIL,
        channel="email",
        reason=SuppressionReason.COMPLAINT,
    )
    assert store.decide(MARKETING) == (Reason.SUPPRESSED,)


def test_an_unknown_address_can_be_suppressed(store: Store) -> None:
    suppress(
        session=store.session,
        keyring=store.keyring,
        kind="email",
        value="erased@example.com",
        channel="email",
        reason=SuppressionReason.ERASURE,
    )
    assert store.decide(MARKETING, value="erased@example.com") == (
        Reason.SUPPRESSED,
        Reason.NO_CONSENT,
    )


def test_consent_does_not_cover_another_channel(store: Store) -> None:
    store.consent(MARKETING, GIVEN)
    store.consent(EXPIRING, GIVEN, channel="sms", identities=[("phone", "07700 900123")])
    assert store.decide(MARKETING, "sms", kind="phone", value="07700900123") == (
        Reason.BASIS_DOES_NOT_COVER,
        Reason.NO_CONSENT,
    )
    assert store.decide(EXPIRING, "sms", kind="phone", value="+447700900123") == ()


@pytest.mark.parametrize(
    ("subscriber", "allowed"),
    [(Subscriber.INDIVIDUAL, False), (Subscriber.UNKNOWN, False), (Subscriber.CORPORATE, True)],
)
def test_pecr_legitimate_interest_email_marketing(
    store: Store, subscriber: Subscriber, allowed: bool
) -> None:
    store.person().subscriber = subscriber.value
    store.session.flush()
    assert store.decide(LI_MARKETING) == (() if allowed else (Reason.BASIS_DOES_NOT_COVER,))
    assert store.decide(LI_MARKETING, "post") == ()


def test_recipient_not_allowed(store: Store) -> None:
    store.consent(MARKETING, GIVEN)
    assert store.decide(MARKETING, recipient=PROCESSOR) == ()
    assert store.decide(CONTRACT, recipient=CONTROLLER) == ()
    assert store.decide(CONTRACT, recipient=PROCESSOR) == (Reason.RECIPIENT_NOT_ALLOWED,)


def test_gpc_for_cookies_and_sharing_and_a_live_choice_overrides_it(store: Store) -> None:
    cookie = ("cookie_id", "c-123")
    assert store.decide("analytics", "cookie", kind=cookie[0], value=cookie[1], gpc=True) == (
        Reason.GLOBAL_PRIVACY_CONTROL,
    )
    assert store.decide("analytics", "cookie", kind=cookie[0], value=cookie[1]) == ()
    assert (
        store.decide("strictly_necessary", "cookie", kind=cookie[0], value=cookie[1], gpc=True)
        == ()
    )
    store.consent("advertising", GIVEN, channel="cookie", identities=[cookie])
    assert store.decide("advertising", "cookie", kind=cookie[0], value=cookie[1], gpc=True) == ()
    assert store.decide(CONTRACT, recipient=CONTROLLER, gpc=True) == (
        Reason.GLOBAL_PRIVACY_CONTROL,
    )


def test_the_person_is_named_only_in_the_python_outcome(store: Store) -> None:
    person = store.consent(MARKETING, GIVEN)
    known = decide(
        session=store.session,
        keyring=store.keyring,
        policy=POLICY,
        identity_kind="email",
        identity_value=EMAIL,
        purpose=MARKETING,
        channel="email",
        now=NOW,
    )
    assert known.person_id == person.id
    assert known.rule.lawful_basis == "consent"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"purpose": "no_such_purpose"}, "purpose"),
        ({"channel": "fax"}, "channel"),
        ({"recipient": "nobody"}, "recipient"),
        ({"kind": "passport"}, "identity.kind"),
        ({"value": "not an address"}, "identity.value"),
        ({"kind": "phone", "value": "12"}, "identity.value"),
        ({"value": "   "}, "identity.value"),
    ],
)
def test_anything_unknown_or_malformed_names_its_field(
    store: Store, changes: dict[str, str], field: str
) -> None:
    asked = {"purpose": MARKETING, "channel": "email", "kind": "email", "value": EMAIL, **changes}
    purpose, channel = asked.pop("purpose"), asked.pop("channel")
    with pytest.raises(InvalidValue) as raised:
        store.decide(purpose, channel, **asked)  # type: ignore[arg-type]
    assert raised.value.field == field
