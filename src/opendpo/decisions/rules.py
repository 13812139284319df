"""The rules of the decision point, as a pure function of the policy and the facts.

`rule_for` reads the policy once per (purpose, channel, recipient); `evaluate` applies it to
one person's facts. Single decisions and the bulk path gather facts differently (one
person's rows, or a set-based join over a campaign list) and share these rules, so the two
cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from opendpo.consent.ledger import Channel, ConsentState
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument

ELECTRONIC = frozenset({Channel.EMAIL, Channel.SMS})  # PECR regulation 22


class Reason(StrEnum):
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    EXPIRED = "expired"
    RENEWAL_NEEDED = "renewal_needed"
    OBJECTION = "objection"
    RESTRICTED = "restricted"
    SUPPRESSED = "suppressed"
    BASIS_DOES_NOT_COVER = "basis_does_not_cover"
    RECIPIENT_NOT_ALLOWED = "recipient_not_allowed"
    GLOBAL_PRIVACY_CONTROL = "global_privacy_control"


MESSAGES: dict[Reason, str] = {
    Reason.NO_CONSENT: "This purpose needs consent, and the person has not given it.",
    Reason.WITHDRAWN: "The person withdrew their consent.",
    Reason.REFUSED: "The person refused consent.",
    Reason.EXPIRED: "The person's consent has lapsed; ask again before using it.",
    Reason.RENEWAL_NEEDED: "The purpose changed materially since consent was given; ask again.",
    Reason.OBJECTION: "The person objected to this use of their data.",
    Reason.RESTRICTED: "Processing of this person's data is restricted.",
    Reason.SUPPRESSED: "The address is on the suppression list.",
    Reason.BASIS_DOES_NOT_COVER: "The purpose's lawful basis does not cover this use.",
    Reason.RECIPIENT_NOT_ALLOWED: "This recipient may not receive data for this purpose.",
    Reason.GLOBAL_PRIVACY_CONTROL: "The browser sent Global Privacy Control (Sec-GPC: 1).",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """What the policy says about one purpose on one channel (and maybe one recipient)."""

    purpose: str
    channel: Channel
    lawful_basis: str  # or, for cookie categories: not_required, objection, required
    direct_marketing: bool
    needs_consent: bool
    channel_covered: bool
    allow_until_renewed: bool
    valid_for: str | None
    recipient_problem: bool
    gpc_applies: bool  # GPC limits this use: a non-essential cookie, or sharing beyond us
    objection_applies: bool  # Art 21 covers this basis (not contract or legal obligation)

    @property
    def asks_subscriber(self) -> bool:
        """PECR: electronic direct marketing not resting on consent may go to corporate
        subscribers only. No other rule reads the subscriber, so no other needs it fetched."""
        return not self.needs_consent and self.direct_marketing and self.channel in ELECTRONIC


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store knows about one person, for one rule. Unknown people have defaults."""

    known: bool = False
    subscriber: str = "unknown"
    consent_state: str | None = None
    consent_expires_at: dt.datetime | None = None
    needs_renewal: bool = False
    suppressed: bool = False
    restricted: bool = False
    objected: bool = False
    gpc: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...]

    def messages(self) -> list[dict[str, str]]:
        return [{"code": reason.value, "message": MESSAGES[reason]} for reason in self.reasons]


def rule_for(
    policy: PolicyDocument, *, purpose: str, channel: str, recipient: str | None = None
) -> Rule:
    """The rule for this use; InvalidValue naming the field for anything the policy lacks."""
    try:
        chosen = Channel(channel)
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        raise InvalidValue("channel", f"'{channel}' is not a channel ({names})") from None
    if recipient is not None and not any(r.key == recipient for r in policy.recipients):
        raise InvalidValue("recipient", f"'{recipient}' is not a recipient in the policy")
    if chosen is Channel.COOKIE:
        return _cookie_rule(policy, purpose, recipient)
    if not any(p.key == purpose for p in policy.purposes):
        raise InvalidValue("purpose", f"'{purpose}' is not a purpose in the policy")
    found = policy.purpose(purpose)
    terms = found.consent
    recipient_problem = False
    sharing_beyond_us = False
    if recipient is not None:
        listed = policy.recipient(recipient)
        recipient_problem = recipient not in found.recipients and purpose not in listed.purposes
        sharing_beyond_us = listed.role != "processor"
    return Rule(
        purpose=purpose,
        channel=chosen,
        lawful_basis=found.lawful_basis,
        direct_marketing=found.direct_marketing,
        needs_consent=found.lawful_basis == "consent",
        channel_covered=terms is None or chosen.value in terms.channels,
        allow_until_renewed=terms is not None and terms.until_renewed == "allow",
        valid_for=terms.valid_for if terms else None,
        recipient_problem=recipient_problem,
        gpc_applies=sharing_beyond_us,
        objection_applies=found.direct_marketing
        or found.lawful_basis in ("legitimate_interests", "public_task", "consent"),
    )


def _cookie_rule(policy: PolicyDocument, category: str, recipient: str | None) -> Rule:
    cookies = policy.cookies
    found = next((c for c in cookies.categories if c.key == category), None) if cookies else None
    if cookies is None or found is None:
        raise InvalidValue("purpose", f"'{category}' is not a cookie category in the policy")
    return Rule(
        purpose=category,
        channel=Channel.COOKIE,
        lawful_basis=found.consent,
        direct_marketing=False,
        needs_consent=found.consent == "required",
        channel_covered=True,
        allow_until_renewed=False,
        valid_for=None,
        recipient_problem=False,
        gpc_applies=cookies.honour_global_privacy_control and found.consent != "not_required",
        objection_applies=found.consent != "not_required",
    )


def evaluate(rule: Rule, facts: Facts, now: dt.datetime) -> Decision:
    """Every reason that applies is given, not just the first: staff see the whole picture."""
    reasons: list[Reason] = []
    if rule.recipient_problem:
        reasons.append(Reason.RECIPIENT_NOT_ALLOWED)
    if not rule.channel_covered:
        reasons.append(Reason.BASIS_DOES_NOT_COVER)
    if facts.restricted:
        reasons.append(Reason.RESTRICTED)
    if facts.suppressed and (rule.direct_marketing or rule.needs_consent):
        reasons.append(Reason.SUPPRESSED)
    state = facts.consent_state
    live_consent = (
        state == ConsentState.GIVEN
        and (facts.consent_expires_at is None or facts.consent_expires_at > now)
        and (not facts.needs_renewal or rule.allow_until_renewed)
    )
    # Withdrawing or refusing a purpose that does not rest on consent is an objection to it.
    objected = facts.objected or (
        not rule.needs_consent and state in (ConsentState.WITHDRAWN, ConsentState.REFUSED)
    )
    if objected and rule.objection_applies:
        reasons.append(Reason.OBJECTION)
    if rule.needs_consent and not live_consent:
        reasons.append(_missing_consent(facts))
    elif rule.asks_subscriber and facts.subscriber != "corporate" and not live_consent:
        # PECR: individual subscribers (and those we cannot tell apart) need consent for
        # electronic marketing, whatever basis UK GDPR rests on.
        reasons.append(Reason.BASIS_DOES_NOT_COVER)
    # An explicit, live choice of the person overrides the browser's general signal.
    if rule.gpc_applies and facts.gpc and not live_consent:
        reasons.append(Reason.GLOBAL_PRIVACY_CONTROL)
    return Decision(allowed=not reasons, reasons=tuple(dict.fromkeys(reasons)))


def _missing_consent(facts: Facts) -> Reason:
    state = facts.consent_state
    if state == ConsentState.WITHDRAWN:
        return Reason.WITHDRAWN
    if state == ConsentState.REFUSED:
        return Reason.REFUSED
    if state == ConsentState.GIVEN and facts.needs_renewal:
        return Reason.RENEWAL_NEEDED
    if state == ConsentState.GIVEN:
        return Reason.EXPIRED
    return Reason.NO_CONSENT
