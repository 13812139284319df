"""Helpers the consent tests share: applying a policy, recording an answer, reading rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opendpo.consent.ledger import (
    CHAIN,
    CollectionMethod,
    ConsentRecord,
    ConsentState,
    CurrentConsent,
    Proof,
)
from opendpo.consent.service import record_consent
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import apply_policy
from opendpo.security import chain
from opendpo.security.keyring import Keyring
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import Person

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ANN = ("email", "ann@example.com")
PURPOSE = "marketing_email"


@dataclass(frozen=True)
class Applied:
    document: PolicyDocument
    version: int


def apply(engine: Engine, document: PolicyDocument) -> int:
    with make_session_factory(engine)() as session, session.begin():
        result = apply_policy(session=session, document=document, source="tests", applied_by="t")
        return result.version.number


def with_consent_terms(document: PolicyDocument, purpose: str, **terms: Any) -> PolicyDocument:
    """A copy of `document` whose `purpose` has these consent terms changed."""
    data = document.model_dump(mode="json", exclude_none=True)
    for item in data["purposes"]:
        if item["key"] == purpose:
            item["consent"].update(terms)
    return PolicyDocument.model_validate(data)


def with_purpose(document: PolicyDocument, purpose: str, **fields: Any) -> PolicyDocument:
    data = document.model_dump(mode="json", exclude_none=True)
    for item in data["purposes"]:
        if item["key"] == purpose:
            item.update(fields)
    return PolicyDocument.model_validate(data)


def answer(
    session: Session,
    keyring: Keyring,
    applied: Applied,
    state: ConsentState,
    *,
    at: dt.datetime = NOW,
    identity: tuple[str, str] = ANN,
    purpose: str = PURPOSE,
    channel: str = "email",
) -> tuple[Person, ConsentRecord]:
    """Record one answer through the service, as a web form would, and commit it."""
    person, record = record_consent(
        session=session,
        keyring=keyring,
        policy=applied.document,
        policy_version=applied.version,
        identities=[identity],
        purpose=purpose,
        channel=channel,
        state=state,
        proof=Proof(method=CollectionMethod.WEB_FORM, source="tests", client_address="192.0.2.7"),
        now=at,
    )
    session.commit()
    return person, record


def projection(session: Session) -> list[tuple[Any, ...]]:
    """Every current preference, as comparable tuples."""
    session.expire_all()
    rows = session.scalars(
        select(CurrentConsent).order_by(
            CurrentConsent.person_id, CurrentConsent.purpose, CurrentConsent.channel
        )
    )
    return [
        (
            c.person_id,
            c.purpose,
            c.channel,
            c.state,
            c.record_seq,
            _utc(c.at),
            _utc(c.expires_at),
            c.policy_version,
            c.needs_renewal,
        )
        for c in rows
    ]


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def ledger_states(session: Session, person_id: str) -> list[str]:
    """The person's records' states, oldest first."""
    return list(
        session.scalars(
            select(ConsentRecord.state)
            .where(ConsentRecord.person_id == person_id)
            .order_by(ConsentRecord.seq)
        )
    )


def counts(session: Session) -> tuple[int, int, int]:
    """People, consent records, and the consent chain's head sequence number."""
    people = session.scalar(select(func.count()).select_from(Person)) or 0
    records = session.scalar(select(func.count()).select_from(ConsentRecord)) or 0
    seq, _ = chain.head(session=session, chain=CHAIN)
    return people, records, seq
