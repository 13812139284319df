"""Every transition of a person's consent: the ledger rows, the current preference and the
decision, on SQLite and PostgreSQL; rebuilding and verifying the ledger; and nothing
half-written when a value is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from consent_helpers import (
    ANN,
    NOW,
    PURPOSE,
    Applied,
    answer,
    apply,
    counts,
    ledger_states,
    projection,
    with_consent_terms,
)
from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session

from opendpo.consent import ledger
from opendpo.consent.ledger import (
    CollectionMethod,
    ConsentState,
    CurrentConsent,
    Proof,
    current_for_person,
)
from opendpo.consent.renewal import mark_renewals
from opendpo.consent.service import record_consent
from opendpo.decisions.decide import decide
from opendpo.decisions.rules import Reason
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring

GIVEN, WITHDRAWN, REFUSED = ConsentState.GIVEN, ConsentState.WITHDRAWN, ConsentState.REFUSED
LATER = NOW + dt.timedelta(days=1)


def decision(
    session: Session,
    keyring: Keyring,
    applied: Applied,
    *,
    email: str = ANN[1],
    now: dt.datetime = LATER,
) -> tuple[bool, tuple[Reason, ...]]:
    outcome = decide(
        session=session,
        keyring=keyring,
        policy=applied.document,
        identity_kind="email",
        identity_value=email,
        purpose=PURPOSE,
        channel="email",
        now=now,
    )
    return outcome.decision.allowed, outcome.decision.reasons


def current(session: Session, person_id: str) -> CurrentConsent:
    session.expire_all()
    [found] = current_for_person(session=session, person_id=person_id)
    return found


def test_given_withdrawn_and_given_again(
    session: Session, keyring: Keyring, applied: Applied
) -> None:
    assert decision(session, keyring, applied) == (False, (Reason.NO_CONSENT,))

    person, first = answer(session, keyring, applied, GIVEN)
    assert ledger_states(session, person.id) == ["given"]
    assert (current(session, person.id).state, current(session, person.id).record_seq) == (
        "given",
        first.seq,
    )
    assert decision(session, keyring, applied) == (True, ())

    _, second = answer(session, keyring, applied, WITHDRAWN, at=NOW + dt.timedelta(hours=1))
    assert ledger_states(session, person.id) == ["given", "withdrawn"]
    assert current(session, person.id).state == "withdrawn"
    assert current(session, person.id).record_seq == second.seq
    assert decision(session, keyring, applied) == (False, (Reason.WITHDRAWN,))

    answer(session, keyring, applied, GIVEN, at=NOW + dt.timedelta(hours=2))
    assert ledger_states(session, person.id) == ["given", "withdrawn", "given"]
    assert current(session, person.id).state == "given"
    assert decision(session, keyring, applied) == (True, ())
    # The earlier records stay as they were: the ledger only grows.
    assert ledger.get_record(session=session, record_id=first.id) is not None
    assert ledger.verify(session=session, keyring=keyring).checked == 3


def test_refused_then_given(session: Session, keyring: Keyring, applied: Applied) -> None:
    bob = ("email", "bob@example.com")
    person, _ = answer(session, keyring, applied, REFUSED, identity=bob)
    assert ledger_states(session, person.id) == ["refused"]
    assert current(session, person.id).state == "refused"
    assert current(session, person.id).expires_at is None
    assert decision(session, keyring, applied, email=bob[1]) == (False, (Reason.REFUSED,))

    answer(session, keyring, applied, GIVEN, identity=bob, at=NOW + dt.timedelta(minutes=5))
    assert ledger_states(session, person.id) == ["refused", "given"]
    assert decision(session, keyring, applied, email=bob[1]) == (True, ())
    # Another person's answers are theirs alone.
    assert decision(session, keyring, applied) == (False, (Reason.NO_CONSENT,))


@pytest.fixture
def lapsing(engine: Engine, minimal_document: PolicyDocument) -> Applied:
    """Consent to marketing emails lapses a year after it is given."""
    document = with_consent_terms(minimal_document, PURPOSE, valid_for="P1Y")
    return Applied(document, apply(engine, document))


def test_consent_renewed_moves_its_expiry_and_lapses_when_it_passes(
    session: Session, keyring: Keyring, lapsing: Applied
) -> None:
    person, first = answer(session, keyring, lapsing, GIVEN)
    year = dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.UTC)
    assert current(session, person.id).expires_at is not None
    assert _utc(current(session, person.id).expires_at) == year
    assert decision(session, keyring, lapsing, now=year - dt.timedelta(minutes=1))[0]
    assert decision(session, keyring, lapsing, now=year) == (False, (Reason.EXPIRED,))

    renewed_at = NOW + dt.timedelta(days=200)
    _, second = answer(session, keyring, lapsing, GIVEN, at=renewed_at)
    assert ledger_states(session, person.id) == ["given", "given"]
    assert _utc(current(session, person.id).expires_at) == dt.datetime(
        2027, 9, 18, 9, 0, tzinfo=dt.UTC
    )
    assert current(session, person.id).record_seq == second.seq > first.seq
    assert decision(session, keyring, lapsing, now=year) == (True, ())
    assert decision(session, keyring, lapsing, now=year + dt.timedelta(days=200)) == (
        False,
        (Reason.EXPIRED,),
    )


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    assert moment is not None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def test_renewal_mark_then_a_new_answer_clears_it(
    engine: Engine, session: Session, keyring: Keyring, applied: Applied
) -> None:
    person, _ = answer(session, keyring, applied, GIVEN)
    reworded = with_consent_terms(applied.document, PURPOSE, wording="Weekly news, by email.")
    version = apply(engine, reworded)
    marked = mark_renewals(
        session=session,
        keyring=keyring,
        previous=applied.document,
        current=reworded,
        version=version,
    )
    session.commit()
    assert marked == {PURPOSE: 1}
    assert current(session, person.id).needs_renewal is True
    now_applied = Applied(reworded, version)
    assert decision(session, keyring, now_applied) == (False, (Reason.RENEWAL_NEEDED,))
    # The mark is not an answer: the ledger holds only what the person said.
    assert ledger_states(session, person.id) == ["given"]

    before = projection(session)
    assert ledger.rebuild_states(session=session) == 1
    session.commit()
    assert projection(session) == before  # the renewal mark survives a rebuild

    answer(session, keyring, now_applied, GIVEN, at=LATER)
    assert current(session, person.id).needs_renewal is False
    assert current(session, person.id).policy_version == version
    assert decision(session, keyring, now_applied, now=LATER) == (True, ())


def test_rebuild_reproduces_the_projection_exactly(
    session: Session, keyring: Keyring, applied: Applied
) -> None:
    people = [("email", f"p{n}@example.com") for n in range(4)]
    for step, state in enumerate([GIVEN, WITHDRAWN, REFUSED, GIVEN, WITHDRAWN, GIVEN]):
        identity = people[step % len(people)]
        answer(session, keyring, applied, state, identity=identity, at=NOW + dt.timedelta(step))
    session.execute(
        update(CurrentConsent).where(CurrentConsent.state == "given").values(needs_renewal=True)
    )
    session.commit()
    before = projection(session)
    assert len(before) == 4
    # Wreck the projection: a rebuild must restore it from the ledger alone.
    session.execute(update(CurrentConsent).values(state="refused", record_seq=99))
    assert ledger.rebuild_states(session=session) == 4
    session.commit()
    assert projection(session) == before


def _record_three(session: Session, keyring: Keyring, applied: Applied) -> None:
    for step, state in enumerate([GIVEN, WITHDRAWN, GIVEN]):
        answer(session, keyring, applied, state, at=NOW + dt.timedelta(minutes=step))
    assert ledger.verify(session=session, keyring=keyring).ok


def test_verify_names_an_edited_record(
    session: Session, keyring: Keyring, applied: Applied
) -> None:
    _record_three(session, keyring, applied)
    session.execute(text("UPDATE consent_records SET state = 'given' WHERE seq = 2"))
    session.commit()
    result = ledger.verify(session=session, keyring=keyring)
    assert not result.ok
    assert result.first_bad_seq == 2
    assert result.problem == "entry 2 was edited: its contents do not match its hash"


def test_verify_names_a_deleted_record(
    session: Session, keyring: Keyring, applied: Applied
) -> None:
    _record_three(session, keyring, applied)
    session.execute(text("DELETE FROM consent_records WHERE seq = 2"))
    session.commit()
    result = ledger.verify(session=session, keyring=keyring)
    assert (result.first_bad_seq, result.checked) == (2, 1)
    assert result.problem is not None and "entry 2 is missing" in result.problem


def test_verify_names_swapped_records(session: Session, keyring: Keyring, applied: Applied) -> None:
    _record_three(session, keyring, applied)
    session.execute(text("UPDATE consent_records SET seq = -2 WHERE seq = 2"))
    session.execute(text("UPDATE consent_records SET seq = 2 WHERE seq = 3"))
    session.execute(text("UPDATE consent_records SET seq = 3 WHERE seq = -2"))
    session.commit()
    result = ledger.verify(session=session, keyring=keyring)
    assert result.first_bad_seq == 2
    assert result.problem is not None and "does not follow entry 1" in result.problem


@pytest.mark.parametrize(
    ("identity", "purpose", "channel", "field"),
    [
        (("email", "not an address"), PURPOSE, "email", "email"),
        (("phone", "12"), PURPOSE, "email", "phone"),
        (ANN, "newsletters", "email", "purpose"),
        (ANN, PURPOSE, "fax", "channel"),
        (ANN, PURPOSE, "post", "channel"),  # the policy asks consent by email only
    ],
)
def test_a_refused_value_leaves_nothing_written(
    session: Session,
    keyring: Keyring,
    applied: Applied,
    identity: tuple[str, str],
    purpose: str,
    channel: str,
    field: str,
) -> None:
    answer(session, keyring, applied, GIVEN, identity=("email", "zoe@example.com"))
    before = counts(session)
    with pytest.raises(InvalidValue) as raised:
        record_consent(
            session=session,
            keyring=keyring,
            policy=applied.document,
            policy_version=applied.version,
            identities=[identity],
            purpose=purpose,
            channel=channel,
            state=GIVEN,
            proof=Proof(method=CollectionMethod.WEB_FORM),
        )
    assert raised.value.field == field
    # Checked in the same, uncommitted transaction: nothing was even flushed.
    assert counts(session) == before
    session.rollback()
    assert counts(session) == before == (1, 1, 1)
