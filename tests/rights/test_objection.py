"""An objection to direct marketing takes effect as its request is verified (Art 21(3)):
nothing to weigh, so nothing waits for staff to run the request."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.orm import Session

from opendpo.decisions.decide import decide
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.intake import submit_request
from opendpo.rights.kinds import RequestStatus
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.records import Request
from opendpo.rights.timeline import events
from opendpo.rights.verification import check_code
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring
from opendpo.subjects.flags import active_flags

RECEIVED = dt.datetime(2026, 9, 3, 9, 0, tzinfo=dt.UTC)
PERSON = Actor(ActorKind.SUBJECT)


def object_by_email(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext,
    email: str, ground: str,
) -> tuple[Request, list[Letter]]:  # fmt: skip
    """Submitted on the privacy centre, then verified with the emailed code."""
    request, sent = submit_request(
        session=session, keyring=keyring, policy=policy, kind="objection",
        identities=[("email", email)], details={"ground": ground}, channel="privacy_centre",
        actor=PERSON, context=letters, now=RECEIVED,
    )  # fmt: skip
    found = re.search(r"\b(\d{6})\b", sent[0].text)
    assert found is not None
    acknowledged = check_code(
        session=session, keyring=keyring, request=request, code=found.group(1), actor=PERSON,
        context=letters, now=RECEIVED + dt.timedelta(minutes=5),
    )  # fmt: skip
    session.flush()
    return request, acknowledged


def reasons(session: Session, keyring: Keyring, policy: PolicyDocument, email: str) -> set[str]:
    outcome = decide(
        session=session, keyring=keyring, policy=policy, identity_kind="email",
        identity_value=email, purpose="marketing", channel="email",
    )  # fmt: skip
    assert outcome.decision.allowed is False
    return {reason.value for reason in outcome.decision.reasons}


def test_direct_marketing_stops_the_moment_the_request_is_verified(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> None:
    assert "objection" not in reasons(session, keyring, policy, "Kim@Example.com")
    request, acknowledged = object_by_email(
        session, keyring, policy, letters, "Kim@Example.com", "direct_marketing"
    )
    # Verified, not run: no staff member has touched it, and still the refusal holds.
    assert request.status == RequestStatus.VERIFIED
    assert [letter.to for letter in acknowledged] == ["kim@example.com"]
    assert {"objection", "suppressed"} <= reasons(session, keyring, policy, "kim@example.com")
    assert request.person_id is not None
    flags = active_flags(session=session, person_id=request.person_id)
    assert [(f.kind, f.purpose) for f in flags] == [("objection", "marketing")]
    [applied] = [
        e for e in events(session=session, request_id=request.id) if e.kind == "objection_applied"
    ]
    assert applied.message is not None and "marketing" in applied.message
    assert not applied.public


def test_other_grounds_wait_for_staff_to_weigh_them(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> None:
    request, _ = object_by_email(
        session, keyring, policy, letters, "lee@example.com", "legitimate_interests"
    )
    assert request.status == RequestStatus.VERIFIED
    assert "objection" not in reasons(session, keyring, policy, "lee@example.com")
    assert "suppressed" not in reasons(session, keyring, policy, "lee@example.com")
    assert "objection_applied" not in {
        e.kind for e in events(session=session, request_id=request.id)
    }
