"""One decision: gather one identity's facts from the store and apply the rules.

One query, whatever the policy, built from the same fact expressions as the bulk path's
chunk statement (chunk_facts). Unknown people are decided on the same rules with no facts, so
the answer never says whether someone is known beyond what the rules imply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from opendpo.decisions.facts import facts_from, gather
from opendpo.decisions.rules import Decision, Rule, evaluate, rule_for
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.subjects.identities import IdentityKind, normalise


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    rule: Rule
    person_id: str | None
    # The digest of the policy in force in the store as the facts were read; it differs from
    # the given policy's when a newer one was applied meanwhile (see `decide_current`).
    policy_digest: str | None


def decide(
    *,
    session: Session | Connection,
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
    found = next(gather(session, rule, kind.value, [index]))
    decision = evaluate(rule, facts_from(found.known, gpc), moment)
    return Outcome(decision, rule, found.person_id, found.policy_digest)


def _kind(value: str) -> str:
    # Named for the API field, so a bad kind reads "identity.kind: ...".
    try:
        return IdentityKind(value).value
    except ValueError:
        kinds = ", ".join(k.value for k in IdentityKind)
        raise InvalidValue(
            "identity.kind", f"'{value}' is not an identity kind ({kinds})"
        ) from None
