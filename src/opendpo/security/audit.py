"""The audit log: append-only, hash-chained, keyed. Who did what, when, from where, to what.

Entries never hold personal data values, only the ids of the records touched, so that an
auditor may read the whole log. `verify` recomputes the chain and names the first entry that
was edited, deleted or moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.security import chain
from opendpo.security.keyring import Keyring
from opendpo.store.base import Base

CHAIN = "audit"


class ActorKind(StrEnum):
    STAFF = "staff"
    API_KEY = "api_key"
    SUBJECT = "subject"  # a data subject, e.g. through the privacy centre
    SYSTEM = "system"  # OpenDPO itself: scheduled jobs, workers
    CLI = "cli"  # an operator at the command line, named by their OS account
    ANONYMOUS = "anonymous"  # e.g. a failed sign-in before anyone is known


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    address: str | None = None  # client address, when the action came over the network


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(100), index=True)
    client_address: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_kind: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(100), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def fields(self) -> dict[str, Any]:
        """What the MAC covers: every column but the MACs themselves."""
        return {
            "seq": self.seq,
            "at": as_utc(self.at).isoformat(),
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "client_address": self.client_address,
            "action": self.action,
            "target_kind": self.target_kind,
            "target_id": self.target_id,
            "details": self.details,
        }


def as_utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def record(
    *,
    session: Session,
    keyring: Keyring,
    actor: Actor,
    action: str,
    target_kind: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction: it lands if and only if the change does."""
    seq, previous = chain.advance(session=session, chain=CHAIN)
    entry = AuditEntry(
        seq=seq,
        at=as_utc(now or dt.datetime.now(dt.UTC)),
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        client_address=actor.address,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        details=details or {},
        prev_hash=previous,
    )
    entry.hash = chain.entry_mac(keyring.derived_key("audit-chain"), previous, entry.fields())
    session.add(entry)
    chain.seal(session=session, chain=CHAIN, entry_hash=entry.hash)
    session.flush()
    return entry


VerifyResult = chain.VerifyResult


def verify(
    *, session: Session, keyring: Keyring, progress: Callable[[int], None] | None = None
) -> VerifyResult:
    """Walk the chain from the start; the first entry that does not fit is reported."""
    return chain.verify_chain(
        session=session,
        model=AuditEntry,
        chain=CHAIN,
        key=keyring.derived_key("audit-chain"),
        progress=progress,
    )


def count(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


@dataclass(frozen=True)
class AuditQuery:
    actor_id: str | None = None
    action: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def search(
    *, session: Session, query: AuditQuery, limit: int = 100, before_seq: int | None = None
) -> Sequence[AuditEntry]:
    """Newest first; `before_seq` pages further back."""
    statement = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if query.actor_id:
        statement = statement.where(AuditEntry.actor_id == query.actor_id)
    if query.action:
        statement = statement.where(AuditEntry.action.startswith(query.action, autoescape=True))
    if query.target_kind:
        statement = statement.where(AuditEntry.target_kind == query.target_kind)
    if query.target_id:
        statement = statement.where(AuditEntry.target_id == query.target_id)
    if query.since:
        statement = statement.where(AuditEntry.at >= query.since)
    if query.until:
        statement = statement.where(AuditEntry.at < query.until)
    if before_seq is not None:
        statement = statement.where(AuditEntry.seq < before_seq)
    return session.scalars(statement).all()
