"""Re-consent: when a new policy version changes a consent purpose materially, the consents
given to the earlier version are marked as needing renewal.

The marks live on the current preferences (`consent_states.needs_renewal`), not in the
ledger: they record a change of the policy, not an answer of the person. The decision point
then treats a marked consent as the purpose's `until_renewed` says, the preference centre
asks again, and the person's next answer clears the mark.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from opendpo.consent.ledger import Channel, ConsentState, CurrentConsent
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.purposes import Purpose
from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring

SYSTEM = Actor(ActorKind.SYSTEM, "policy-apply")


def _terms(purpose: Purpose) -> dict[str, Any]:
    """What a person agreed to, as far as a change of it makes their consent stale.

    Consent must be specific and informed (UK GDPR Art 4(11), 7): it covers the words they
    were shown, the channels they may be contacted by, what the data is used for, which data,
    who receives it, and the basis it rests on. A new description, name, system or retention
    period does not change that agreement (the notice tells people of those), so it does not
    call for asking again.
    """
    consent = purpose.consent
    return {
        "wording": consent.wording if consent else None,
        "channels": sorted(consent.channels) if consent else [],
        "data_uses": sorted(purpose.data_uses),
        "data_categories": sorted(purpose.data_categories),
        "recipients": sorted(purpose.recipients),
        "lawful_basis": purpose.lawful_basis,
    }


def changed_materially(previous: PolicyDocument | None, current: PolicyDocument) -> list[str]:
    """Keys of the consent purposes in `current` whose terms differ from `previous`.

    A purpose new in `current` has no consents to renew; with no previous policy, none do.
    """
    if previous is None:
        return []
    before = {purpose.key: purpose for purpose in previous.purposes}
    return [
        purpose.key
        for purpose in current.purposes
        if purpose.lawful_basis == "consent"
        and purpose.key in before
        and _terms(before[purpose.key]) != _terms(purpose)
    ]


def mark_renewals(
    *,
    session: Session,
    keyring: Keyring,
    previous: PolicyDocument | None,
    current: PolicyDocument,
    version: int,
    actor: Actor = SYSTEM,
) -> dict[str, int]:
    """Mark every current GIVEN consent to a materially changed purpose; per purpose, how
    many were marked. Audited per purpose (`consent.renewal_needed`), in the caller's
    transaction, so the marks and the new policy version land together."""
    counts: dict[str, int] = {}
    for key in changed_materially(previous, current):
        result = session.execute(
            update(CurrentConsent)
            .where(
                CurrentConsent.purpose == key,
                # Cookie categories share the purpose column; they are not this purpose.
                CurrentConsent.channel != Channel.COOKIE.value,
                CurrentConsent.state == ConsentState.GIVEN.value,
                CurrentConsent.needs_renewal.is_(False),
            )
            .values(needs_renewal=True)
        )
        counts[key] = int(result.rowcount)  # type: ignore[attr-defined]
        audit.record(
            session=session,
            keyring=keyring,
            actor=actor,
            action="consent.renewal_needed",
            target_kind="purpose",
            target_id=key,
            details={"purpose": key, "count": counts[key], "policy_version": version},
        )
    return counts
