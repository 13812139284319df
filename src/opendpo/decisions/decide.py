"""One decision: gather one person's facts from the store and apply the rules.

Three queries at most, whatever the policy: the identity (by blind index), the person's
consent, flags and suppressions together. Unknown people are decided on the same rules with
no facts, so the answer never says whether someone is known beyond what the rules imply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opendpo.consent.ledger import CurrentConsent
from opendpo.consent.suppression import ALL_PURPOSES, Suppression
from opendpo.decisions.rules import Decision, Facts, Rule, evaluate, rule_for
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.subjects.flags import FlagKind, ProcessingFlag
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.subjects.people import Identity, Person

# Which identity kinds a channel reaches a person through (for suppression).
CHANNEL_IDENTITIES = {"email": ("email",), "sms": ("phone",), "phone": ("phone",)}


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    rule: Rule
    person_id: str | None


def decide(
    *,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    identity_kind: str,
    identity_value: str,
    purpose: str,
    channel: str,
    recipient: str | None = None,
    gpc: bool = False,
    now: dt.datetime | None = None,
) -> Outcome:
    """May this person's data be used so? InvalidValue names any field the policy lacks."""
    rule = rule_for(policy, purpose=purpose, channel=channel, recipient=recipient)
    kind = IdentityKind(_kind(identity_kind))
    index = keyring.blind_index(kind.value, normalise(kind, identity_value, field="identity.value"))
    moment = now or dt.datetime.now(dt.UTC)
    identity = session.scalar(
        select(Identity).where(Identity.kind == kind.value, Identity.blind_index == index)
    )
    person = identity.person if identity is not None else None
    facts = gather_facts(session=session, rule=rule, person=person, blind_indexes=[index], gpc=gpc)
    return Outcome(evaluate(rule, facts, moment), rule, person.id if person else None)


def _kind(value: str) -> str:
    # Named for the API field, so a bad kind reads "identity.kind: ...".
    try:
        return IdentityKind(value).value
    except ValueError:
        kinds = ", ".join(k.value for k in IdentityKind)
        raise InvalidValue(
            "identity.kind", f"'{value}' is not an identity kind ({kinds})"
        ) from None


def gather_facts(
    *,
    session: Session,
    rule: Rule,
    person: Person | None,
    blind_indexes: list[str],
    gpc: bool,
) -> Facts:
    reach = CHANNEL_IDENTITIES.get(rule.channel.value, ())
    if person is not None:
        blind_indexes = blind_indexes + [
            i.blind_index for i in person.identities if i.kind in reach
        ]
    suppressed = bool(reach) and (
        session.scalar(
            select(Suppression.id)
            .where(
                Suppression.blind_index.in_(blind_indexes),
                Suppression.channel == rule.channel.value,
                Suppression.purpose.in_((rule.purpose, ALL_PURPOSES)),
            )
            .limit(1)
        )
        is not None
    )
    if person is None:
        return Facts(suppressed=suppressed, gpc=gpc)
    consent = session.get(CurrentConsent, (person.id, rule.purpose, rule.channel.value))
    flags = session.scalars(
        select(ProcessingFlag.kind).where(
            ProcessingFlag.person_id == person.id,
            ProcessingFlag.lifted_at.is_(None),
            or_(ProcessingFlag.purpose == rule.purpose, ProcessingFlag.purpose == ALL_PURPOSES),
        )
    ).all()
    return Facts(
        known=True,
        subscriber=person.subscriber,
        consent_state=consent.state if consent else None,
        consent_expires_at=_utc(consent.expires_at) if consent else None,
        needs_renewal=consent.needs_renewal if consent else False,
        suppressed=suppressed,
        restricted=FlagKind.RESTRICTION.value in flags,
        objected=FlagKind.OBJECTION.value in flags,
        gpc=gpc,
    )


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
