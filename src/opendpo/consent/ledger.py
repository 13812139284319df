"""The consent ledger: append-only, hash-chained records of every consent given, withdrawn
or refused, with the proof of how — and the current preferences derived from it.

Records are never edited. `consent_states` holds, per person, purpose and channel, the
latest record: a projection written in the same transaction as the record, which
`rebuild_states` can recompute from the ledger at any time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.security import chain
from opendpo.security.audit import as_utc
from opendpo.security.keyring import Keyring
from opendpo.store.base import Base
from opendpo.store.encrypted import Encrypted, EncryptedJSON

CHAIN = "consent"


class ConsentState(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    POST = "post"
    COOKIE = "cookie"  # the purpose is then a cookie category of the policy
    IN_PERSON = "in_person"


class CollectionMethod(StrEnum):
    WEB_FORM = "web_form"  # an opt-in form on the website
    PREFERENCE_CENTRE = "preference_centre"
    UNSUBSCRIBE = "unsubscribe"  # a one-click or confirmed unsubscribe link
    COOKIE_BANNER = "cookie_banner"
    GLOBAL_PRIVACY_CONTROL = "global_privacy_control"  # the browser's Sec-GPC: 1
    PHONE = "phone"  # recorded by a staff member during a call
    PAPER = "paper"  # a signed form, recorded by a staff member
    EMAIL = "email"  # the person wrote to us
    API = "api"  # a connected system reported it
    IMPORT = "import"


STAFF_METHODS = frozenset({CollectionMethod.PHONE, CollectionMethod.PAPER, CollectionMethod.EMAIL})


class ConsentRecord(Base):
    __tablename__ = "consent_records"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(36), unique=True)  # the receipt id
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    method: Mapped[str] = mapped_column(String(30))
    source: Mapped[str | None] = mapped_column(String(300))  # the form or page, by name or URL
    client_address: Mapped[str | None] = mapped_column(Encrypted("consent_records.client_address"))
    user_agent: Mapped[str | None] = mapped_column(Encrypted("consent_records.user_agent"))
    staff_id: Mapped[str | None] = mapped_column(String(36))
    api_key_id: Mapped[str | None] = mapped_column(String(12))
    notice_version: Mapped[str] = mapped_column(String(40))
    policy_version: Mapped[int] = mapped_column(Integer)
    wording: Mapped[str | None] = mapped_column(Text)  # exactly what the person was shown
    evidence: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("consent_records.evidence")
    )
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def fields(self) -> dict[str, Any]:
        """What the MAC covers: every column, decrypted, so key rotation keeps it valid."""
        return {
            "seq": self.seq,
            "id": self.id,
            "person_id": self.person_id,
            "purpose": self.purpose,
            "channel": self.channel,
            "state": self.state,
            "at": as_utc(self.at).isoformat(),
            "method": self.method,
            "source": self.source,
            "client_address": self.client_address,
            "user_agent": self.user_agent,
            "staff_id": self.staff_id,
            "api_key_id": self.api_key_id,
            "notice_version": self.notice_version,
            "policy_version": self.policy_version,
            "wording": self.wording,
            "evidence": self.evidence,
            "expires_at": as_utc(self.expires_at).isoformat() if self.expires_at else None,
        }


class CurrentConsent(Base):
    """The latest record per person, purpose and channel (a projection of the ledger)."""

    __tablename__ = "consent_states"
    # Covering on PostgreSQL (INCLUDE; other stores ignore it): a decision reads the state
    # from the key's index alone (migration 0006).
    __table_args__ = (
        PrimaryKeyConstraint(
            "person_id",
            "purpose",
            "channel",
            postgresql_include=["state", "expires_at", "needs_renewal"],
        ),
    )

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    purpose: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    record_seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    policy_version: Mapped[int] = mapped_column(Integer)
    # Set when a later policy version changed this purpose materially (re-consent).
    needs_renewal: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class Proof:
    """How a consent came to be: the evidence a regulator would ask for."""

    method: CollectionMethod
    source: str | None = None
    client_address: str | None = None
    user_agent: str | None = None
    staff_id: str | None = None
    api_key_id: str | None = None
    evidence: dict[str, Any] | None = None


def append(
    *,
    session: Session,
    keyring: Keyring,
    person_id: str,
    purpose: str,
    channel: Channel,
    state: ConsentState,
    proof: Proof,
    notice_version: str,
    policy_version: int,
    wording: str | None,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ConsentRecord:
    """Append one record and bring the person's current preference up to date, in the
    caller's transaction. Callers validate purpose and channel against the policy first
    (opendpo.consent.service does)."""
    seq, previous = chain.advance(session=session, chain=CHAIN)
    moment = as_utc(now or dt.datetime.now(dt.UTC))
    record = ConsentRecord(
        seq=seq,
        id=str(uuid.uuid4()),
        person_id=person_id,
        purpose=purpose,
        channel=channel.value,
        state=state.value,
        at=moment,
        method=proof.method.value,
        source=proof.source,
        client_address=proof.client_address,
        user_agent=(proof.user_agent or "")[:500] or None,
        staff_id=proof.staff_id,
        api_key_id=proof.api_key_id,
        notice_version=notice_version,
        policy_version=policy_version,
        wording=wording,
        evidence=proof.evidence,
        expires_at=as_utc(expires_at) if expires_at else None,
        prev_hash=previous,
    )
    record.hash = chain.entry_mac(keyring.derived_key("consent-chain"), previous, record.fields())
    session.add(record)
    chain.seal(session=session, chain=CHAIN, entry_hash=record.hash)
    _project(session, record)
    session.flush()
    return record


def _project(session: Session, record: ConsentRecord) -> None:
    current = session.get(CurrentConsent, (record.person_id, record.purpose, record.channel))
    if current is None:
        current = CurrentConsent(
            person_id=record.person_id, purpose=record.purpose, channel=record.channel
        )
        session.add(current)
    current.state = record.state
    current.record_seq = record.seq
    current.at = record.at
    current.expires_at = record.expires_at
    current.policy_version = record.policy_version
    current.needs_renewal = False  # any new answer is an answer to the current wording


def current_for_person(*, session: Session, person_id: str) -> list[CurrentConsent]:
    return list(
        session.scalars(
            select(CurrentConsent)
            .where(CurrentConsent.person_id == person_id)
            .order_by(CurrentConsent.purpose, CurrentConsent.channel)
        )
    )


def history_for_person(*, session: Session, person_id: str) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.person_id == person_id)
            .order_by(ConsentRecord.seq.desc())
        )
    )


def get_record(*, session: Session, record_id: str) -> ConsentRecord | None:
    return session.scalar(select(ConsentRecord).where(ConsentRecord.id == record_id))


def verify(*, session: Session, keyring: Keyring, progress: Any = None) -> chain.VerifyResult:
    return chain.verify_chain(
        session=session,
        model=ConsentRecord,
        chain=CHAIN,
        key=keyring.derived_key("consent-chain"),
        progress=progress,
    )


def rebuild_states(*, session: Session) -> int:
    """Recompute every current preference from the ledger; returns how many there are.

    Renewal marks are kept: they record a policy change, not an answer of the person.
    """
    renewal = {
        (c.person_id, c.purpose, c.channel)
        for c in session.scalars(select(CurrentConsent).where(CurrentConsent.needs_renewal))
    }
    session.execute(delete(CurrentConsent))
    latest: dict[tuple[str, str, str], ConsentRecord] = {}
    for record in session.scalars(select(ConsentRecord).order_by(ConsentRecord.seq)):
        latest[(record.person_id, record.purpose, record.channel)] = record
    for key, record in latest.items():
        _project(session, record)
        if key in renewal:
            session.get_one(CurrentConsent, key).needs_renewal = True
    session.flush()
    return len(latest)
