"""A request from intake to completion on SQLite and PostgreSQL: codes, clock, letters."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import workflow
from opendpo.rights.intake import submit_request
from opendpo.rights.kinds import RequestChannel, RequestStatus
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.timeline import events
from opendpo.rights.verification import MAX_ATTEMPTS, CodeRejected, check_code
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring
from opendpo.subjects.people import find_or_create_person

# Thursday 3 September 2026, 10:00 London time.
RECEIVED = dt.datetime(2026, 9, 3, 9, 0, tzinfo=dt.UTC)
PERSON = Actor(ActorKind.SUBJECT)
STAFF = Actor(ActorKind.STAFF, "staff-1")


def code_in(letter: Letter) -> str:
    found = re.search(r"\b(\d{6})\b", letter.text)
    assert found is not None
    return found.group(1)


def test_a_request_from_the_form_to_completion(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> None:
    person = find_or_create_person(
        session=session, keyring=keyring, identities=[("email", "jane@example.com")]
    )
    request, sent = submit_request(
        session=session,
        keyring=keyring,
        policy=policy,
        kind="access",
        identities=[("email", "Jane@Example.com")],
        details={"description": "everything"},
        channel=RequestChannel.PRIVACY_CENTRE,
        actor=PERSON,
        context=letters,
        now=RECEIVED,
    )
    assert request.status == RequestStatus.AWAITING_VERIFICATION
    assert request.person_id is None  # nothing looked up before verification
    assert request.due_on is None
    assert [letter.to for letter in sent] == ["jane@example.com"]

    with pytest.raises(CodeRejected):
        check_code(
            session=session,
            keyring=keyring,
            request=request,
            code="000000" if code_in(sent[0]) != "000000" else "111111",
            actor=PERSON,
            context=letters,
            now=RECEIVED + dt.timedelta(minutes=1),
        )
    # Verified the same day: due 3 October, a Saturday, so Monday 5 October.
    acknowledged = check_code(
        session=session,
        keyring=keyring,
        request=request,
        code=code_in(sent[0]),
        actor=PERSON,
        context=letters,
        now=RECEIVED + dt.timedelta(minutes=10),
    )
    assert request.status == RequestStatus.VERIFIED
    assert request.person_id == person.id
    assert request.clock_starts_on == dt.date(2026, 9, 3)
    assert request.due_on == dt.date(2026, 10, 5)
    assert "5 October 2026" in acknowledged[0].text
    assert letters.base_url in acknowledged[0].text

    workflow.begin(
        session=session, request=request, actor=STAFF, now=RECEIVED + dt.timedelta(days=1)
    )
    done = workflow.complete(
        session=session,
        request=request,
        actor=STAFF,
        response="Your data is attached.",
        context=letters,
        now=RECEIVED + dt.timedelta(days=3),
    )
    assert request.status == RequestStatus.COMPLETED
    assert "Your data is attached." in done[0].text
    session.flush()
    kinds = [e.kind for e in events(session=session, request_id=request.id)]
    assert kinds[0] == "received" and "code_rejected" in kinds and "identity_verified" in kinds
    statuses = [e.to_status for e in events(session=session, request_id=request.id) if e.to_status]
    assert statuses == [
        "received",
        "awaiting_verification",
        "verified",
        "in_progress",
        "completed",
    ]


def test_a_code_stops_working_after_too_many_wrong_tries(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> None:
    request, sent = submit_request(
        session=session,
        keyring=keyring,
        policy=policy,
        kind="erasure",
        identities=[("email", "sam@example.com")],
        details={},
        channel="privacy_centre",
        actor=PERSON,
        context=letters,
        now=RECEIVED,
    )
    right = code_in(sent[0])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(CodeRejected):
            check_code(
                session=session,
                keyring=keyring,
                request=request,
                code=wrong,
                actor=PERSON,
                context=letters,
                now=RECEIVED,
            )
    with pytest.raises(CodeRejected):
        check_code(
            session=session,
            keyring=keyring,
            request=request,
            code=right,
            actor=PERSON,
            context=letters,
            now=RECEIVED,
        )
    assert request.status == RequestStatus.AWAITING_VERIFICATION


@pytest.mark.parametrize(
    ("kind", "details", "field"),
    [
        ("wishes", {}, "kind"),
        ("rectification", {}, "details.corrections"),
        ("objection", {"ground": "because"}, "details.ground"),
        ("access", {"colour": "blue"}, "details.colour"),
        ("portability", {"destination": "http://x.example"}, "details.destination"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    kind: str,
    details: dict[str, str],
    field: str,
) -> None:
    with pytest.raises(InvalidValue) as refused:
        submit_request(
            session=session,
            keyring=keyring,
            policy=policy,
            kind=kind,
            identities=[("email", "sam@example.com")],
            details=details,
            channel="privacy_centre",
            actor=PERSON,
            context=letters,
        )
    assert refused.value.field == field


def test_a_malformed_identity_names_its_position(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> None:
    with pytest.raises(InvalidValue) as refused:
        submit_request(
            session=session,
            keyring=keyring,
            policy=policy,
            kind="access",
            identities=[("email", "sam@example.com"), ("phone", "not a number")],
            details={},
            channel="privacy_centre",
            actor=PERSON,
            context=letters,
        )
    assert refused.value.field == "identities[1].value"
