"""Recording consent as every entry point does it: checked against the policy in force,
the person found or created by their identities, the exact wording kept, expiry set.

Forms, the preference centre, unsubscribe links, staff and the API all come through here,
so a consent is recorded the same way whoever records it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from opendpo.consent.ledger import (
    STAFF_METHODS,
    Channel,
    ConsentRecord,
    ConsentState,
    Proof,
    append,
)
from opendpo.decisions.rules import rule_for
from opendpo.errors import InvalidValue
from opendpo.policy.model.base import add_duration
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.subjects.people import Person, Subscriber, find_or_create_person


def wording_for(policy: PolicyDocument, *, purpose: str, channel: Channel) -> str:
    """What the person is shown when asked: the policy's own words for this purpose."""
    if channel is Channel.COOKIE:
        assert policy.cookies is not None
        category = next(c for c in policy.cookies.categories if c.key == purpose)
        return f"{category.name}: {category.description}"
    found = policy.purpose(purpose)
    if found.consent is not None and found.consent.wording:
        return found.consent.wording
    return f"{found.name}: {found.description}"


def expiry(
    policy: PolicyDocument, *, purpose: str, channel: Channel, at: dt.datetime
) -> dt.datetime | None:
    if channel is Channel.COOKIE:
        return None
    terms = policy.purpose(purpose).consent
    if terms is None or terms.valid_for is None:
        return None
    return add_duration(at, terms.valid_for)


def record_consent(
    *,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    policy_version: int,
    identities: Sequence[tuple[str, str]],
    purpose: str,
    channel: str,
    state: ConsentState,
    proof: Proof,
    name: str | None = None,
    subscriber: Subscriber | None = None,
    wording: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Person, ConsentRecord]:
    """Append one consent record for the person these identities name (created if new).

    `wording` is what the person was actually shown, when the caller showed more than the
    policy's words (a form's label); by default the policy's wording is recorded.
    InvalidValue names the field for an unknown purpose or channel, a malformed identity,
    or staff-recorded consent without the staff member or evidence.
    """
    rule = rule_for(policy, purpose=purpose, channel=channel)  # validates purpose and channel
    if state is ConsentState.GIVEN and not rule.channel_covered:
        raise InvalidValue(
            "channel", f"the policy does not ask consent for '{purpose}' by {channel}"
        )
    if proof.method in STAFF_METHODS:
        if not proof.staff_id:
            raise InvalidValue(
                "staff_id", "consent taken by phone, post or email names the staff member"
            )
        if not proof.evidence:
            raise InvalidValue("evidence", "describe the evidence (call notes, the signed form …)")
    moment = now or dt.datetime.now(dt.UTC)
    person = find_or_create_person(
        session=session, keyring=keyring, identities=identities, name=name, now=moment
    )
    if subscriber is not None:
        person.subscriber = subscriber.value
    record = append(
        session=session,
        keyring=keyring,
        person_id=person.id,
        purpose=purpose,
        channel=rule.channel,
        state=state,
        proof=proof,
        notice_version=policy.notice.version,
        policy_version=policy_version,
        wording=wording or wording_for(policy, purpose=purpose, channel=rule.channel),
        expires_at=expiry(policy, purpose=purpose, channel=rule.channel, at=moment)
        if state is ConsentState.GIVEN
        else None,
        now=moment,
    )
    return person, record
