"""The rules of the decision point, as a pure function: every reason, alone and together."""

from __future__ import annotations

import datetime as dt
import itertools

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

from opendpo.consent.ledger import Channel, ConsentState
from opendpo.decisions.rules import MESSAGES, Facts, Reason, Rule, evaluate, rule_for
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.subjects.people import Subscriber

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
POLICY = decision_policy()
MARKETING = "marketing_email"
GIVEN = Facts(known=True, consent_state="given")


def rule(purpose: str, channel: str = "email", recipient: str | None = None) -> Rule:
    return rule_for(POLICY, purpose=purpose, channel=channel, recipient=recipient)


def reasons(found: Rule, facts: Facts) -> tuple[Reason, ...]:
    decision = evaluate(found, facts, NOW)
    assert decision.allowed is (not decision.reasons)
    return decision.reasons


def test_every_reason_has_a_message() -> None:
    assert set(MESSAGES) == set(Reason)
    decision = evaluate(rule(MARKETING), Facts(), NOW)
    assert decision.messages() == [{"code": "no_consent", "message": MESSAGES[Reason.NO_CONSENT]}]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (Facts(), (Reason.NO_CONSENT,)),
        (Facts(known=True), (Reason.NO_CONSENT,)),
        (Facts(known=True, consent_state="withdrawn"), (Reason.WITHDRAWN,)),
        (Facts(known=True, consent_state="refused"), (Reason.REFUSED,)),
        (GIVEN, ()),
    ],
)
def test_consent_purposes_need_a_live_consent(facts: Facts, expected: tuple[Reason, ...]) -> None:
    assert reasons(rule(MARKETING), facts) == expected


def test_consent_lapses_at_its_expiry() -> None:
    later = Facts(known=True, consent_state="given", consent_expires_at=NOW + dt.timedelta(1))
    lapsed = Facts(known=True, consent_state="given", consent_expires_at=NOW)
    assert reasons(rule(EXPIRING), later) == ()
    assert reasons(rule(EXPIRING), lapsed) == (Reason.EXPIRED,)


def test_renewal_denies_or_allows_as_the_policy_says() -> None:
    stale = Facts(known=True, consent_state="given", needs_renewal=True)
    assert rule(EXPIRING).allow_until_renewed is False
    assert reasons(rule(EXPIRING), stale) == (Reason.RENEWAL_NEEDED,)
    assert rule(RENEWAL_ALLOWED).allow_until_renewed is True
    assert reasons(rule(RENEWAL_ALLOWED), stale) == ()


def test_an_objection_to_direct_marketing_is_absolute_even_with_consent() -> None:
    objected = Facts(known=True, consent_state="given", objected=True)
    assert reasons(rule(MARKETING), objected) == (Reason.OBJECTION,)
    corporate = Facts(known=True, subscriber="corporate", objected=True)
    assert reasons(rule(LI_MARKETING), corporate) == (Reason.OBJECTION,)


def test_objection_stops_legitimate_interests_but_not_a_contract() -> None:
    objected = Facts(known=True, objected=True)
    assert reasons(rule(LI_PURPOSE), objected) == (Reason.OBJECTION,)
    assert reasons(rule(CONTRACT), objected) == ()


def test_withdrawing_from_a_legitimate_interest_purpose_is_an_objection() -> None:
    for state in ("withdrawn", "refused"):
        facts = Facts(known=True, consent_state=state)
        assert reasons(rule(LI_PURPOSE), facts) == (Reason.OBJECTION,)
        assert reasons(rule(CONTRACT), facts) == ()


def test_restriction_stops_every_purpose() -> None:
    restricted = Facts(known=True, consent_state="given", restricted=True)
    for purpose in (MARKETING, LI_PURPOSE, CONTRACT):
        assert reasons(rule(purpose), restricted) == (Reason.RESTRICTED,)


def test_suppression_stops_marketing_and_consent_purposes_only() -> None:
    suppressed = Facts(known=True, subscriber="corporate", consent_state="given", suppressed=True)
    assert reasons(rule(MARKETING), suppressed) == (Reason.SUPPRESSED,)
    assert reasons(rule(LI_MARKETING), suppressed) == (Reason.SUPPRESSED,)
    assert reasons(rule(CONTRACT), suppressed) == ()
    assert reasons(rule(LI_PURPOSE), suppressed) == ()
    # An address unknown to us can be on the list too (it survives erasure).
    assert reasons(rule(MARKETING), Facts(suppressed=True)) == (
        Reason.SUPPRESSED,
        Reason.NO_CONSENT,
    )


def test_consent_for_one_channel_does_not_cover_another() -> None:
    assert rule(MARKETING, "sms").channel_covered is False
    assert reasons(rule(MARKETING, "sms"), GIVEN) == (Reason.BASIS_DOES_NOT_COVER,)
    assert reasons(rule(EXPIRING, "sms"), GIVEN) == ()


@pytest.mark.parametrize(
    ("subscriber", "channel", "allowed"),
    [
        ("individual", "email", False),
        ("unknown", "email", False),
        ("corporate", "email", True),
        ("individual", "sms", False),
        ("corporate", "sms", True),
        ("individual", "post", True),  # PECR regulation 22 covers electronic mail only
        ("individual", "phone", True),
    ],
)
def test_pecr_legitimate_interest_marketing(subscriber: str, channel: str, allowed: bool) -> None:
    facts = Facts(known=True, subscriber=subscriber)
    expected = () if allowed else (Reason.BASIS_DOES_NOT_COVER,)
    assert reasons(rule(LI_MARKETING, channel), facts) == expected
    assert reasons(rule(LI_MARKETING, channel), Facts(subscriber=subscriber)) == expected


def test_a_live_consent_lets_an_individual_be_emailed_on_legitimate_interests() -> None:
    facts = Facts(known=True, subscriber="individual", consent_state="given")
    assert reasons(rule(LI_MARKETING), facts) == ()


def test_recipients_must_be_allowed_for_the_purpose() -> None:
    assert reasons(rule(CONTRACT, recipient=CONTROLLER), Facts()) == ()
    assert reasons(rule(MARKETING, recipient=PROCESSOR), GIVEN) == ()
    assert reasons(rule(CONTRACT, recipient=PROCESSOR), Facts()) == (Reason.RECIPIENT_NOT_ALLOWED,)
    assert reasons(rule(MARKETING, recipient=CONTROLLER), GIVEN) == (Reason.RECIPIENT_NOT_ALLOWED,)


def test_gpc_applies_to_non_essential_cookies() -> None:
    gpc = Facts(gpc=True)
    assert reasons(rule("strictly_necessary", "cookie"), gpc) == ()
    assert reasons(rule("analytics", "cookie"), gpc) == (Reason.GLOBAL_PRIVACY_CONTROL,)
    assert reasons(rule("analytics", "cookie"), Facts()) == ()
    assert reasons(rule("advertising", "cookie"), gpc) == (
        Reason.NO_CONSENT,
        Reason.GLOBAL_PRIVACY_CONTROL,
    )


def test_an_explicit_live_consent_overrides_gpc() -> None:
    chose = Facts(known=True, consent_state="given", gpc=True)
    assert reasons(rule("advertising", "cookie"), chose) == ()
    assert reasons(rule("analytics", "cookie"), chose) == ()
    withdrew = Facts(known=True, consent_state="withdrawn", gpc=True)
    assert reasons(rule("analytics", "cookie"), withdrew) == (
        Reason.OBJECTION,
        Reason.GLOBAL_PRIVACY_CONTROL,
    )


def test_gpc_applies_to_sharing_beyond_our_processors() -> None:
    gpc = Facts(known=True, gpc=True)
    assert reasons(rule(CONTRACT, recipient=CONTROLLER), gpc) == (Reason.GLOBAL_PRIVACY_CONTROL,)
    assert reasons(rule(CONTRACT), gpc) == ()
    consented = Facts(known=True, consent_state="given", gpc=True)
    assert reasons(rule(MARKETING, recipient=PROCESSOR), consented) == ()


def test_a_policy_may_decline_to_honour_gpc_for_cookies() -> None:
    ignoring = rule_for(decision_policy(honour_gpc=False), purpose="analytics", channel="cookie")
    assert reasons(ignoring, Facts(gpc=True)) == ()


def test_every_reason_that_applies_is_given_once_in_a_stable_order() -> None:
    everything = Facts(
        known=True,
        consent_state="withdrawn",
        suppressed=True,
        restricted=True,
        objected=True,
        gpc=True,
    )
    found = reasons(rule(MARKETING, "sms", recipient=CONTROLLER), everything)
    assert found == (
        Reason.RECIPIENT_NOT_ALLOWED,
        Reason.BASIS_DOES_NOT_COVER,
        Reason.RESTRICTED,
        Reason.SUPPRESSED,
        Reason.OBJECTION,
        Reason.WITHDRAWN,
        Reason.GLOBAL_PRIVACY_CONTROL,
    )
    assert len(set(found)) == len(found)


@pytest.mark.parametrize(
    ("purpose", "channel", "recipient", "field"),
    [
        ("nothing_like_it", "email", None, "purpose"),
        (MARKETING, "carrier_pigeon", None, "channel"),
        (MARKETING, "email", "nobody", "recipient"),
        ("nothing_like_it", "cookie", None, "purpose"),
        (MARKETING, "cookie", None, "purpose"),  # a purpose is not a cookie category
    ],
)
def test_unknown_names_are_invalid_values_naming_the_field(
    purpose: str, channel: str, recipient: str | None, field: str
) -> None:
    with pytest.raises(InvalidValue) as raised:
        rule_for(POLICY, purpose=purpose, channel=channel, recipient=recipient)
    assert raised.value.field == field


def test_a_policy_without_cookies_has_no_cookie_categories() -> None:
    bare: PolicyDocument = POLICY.model_copy(update={"cookies": None})
    with pytest.raises(InvalidValue) as raised:
        rule_for(bare, purpose="analytics", channel="cookie")
    assert raised.value.field == "purpose"


def test_only_electronic_marketing_on_another_basis_asks_for_the_subscriber() -> None:
    """The bulk path reads the subscriber only where `asks_subscriber`: elsewhere it must
    not change any decision, whatever else is known."""
    channels = [c.value for c in Channel if c is not Channel.COOKIE]
    uses = [(p.key, channel) for p in POLICY.purposes for channel in channels]
    asking = {use for use in uses if rule(*use).asks_subscriber}
    assert asking == {(LI_MARKETING, "email"), (LI_MARKETING, "sms")}
    everything = itertools.product(
        [None, *ConsentState], [None, NOW], [False, True], [False, True], [False, True]
    )
    for state, expires, renewal, flagged, gpc in everything:
        for use in set(uses) - asking:
            decisions = {
                evaluate(
                    rule(*use),
                    Facts(
                        known=True,
                        subscriber=subscriber,
                        consent_state=state,
                        consent_expires_at=expires,
                        needs_renewal=renewal,
                        objected=flagged,
                        suppressed=flagged,
                        gpc=gpc,
                    ),
                    NOW,
                )
                for subscriber in Subscriber
            }
            assert len(decisions) == 1, (use, state, expires, renewal, flagged, gpc)
