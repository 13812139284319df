"""The suppression list: addresses that must never be marketed to again.

Kept as the blind index of the normalised address (a keyed hash), not the address itself,
so that it outlives the person's erasure (ICO: keep a suppression list rather than delete)
without keeping their email in the clear.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.security.keyring import Keyring
from opendpo.store.base import Base
from opendpo.subjects.identities import IdentityKind, normalise

ALL_PURPOSES = "*"


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    OBJECTION = "objection"  # Art 21(2): absolute for direct marketing
    COMPLAINT = "complaint"  # e.g. a spam report
    ERASURE = "erasure"  # erased, but must not be re-added by a later import
    STAFF = "staff"


class Suppression(Base):
    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("blind_index", "channel", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # identity kind: email or phone
    blind_index: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(120))  # a purpose key, or * for every one
    reason: Mapped[str] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def suppression_index(keyring: Keyring, kind: IdentityKind | str, value: str) -> str:
    """The same keyed hash as the identity's blind index, so one lookup serves both."""
    kind = IdentityKind(kind)
    return keyring.blind_index(kind.value, normalise(kind, value))


def suppress(
    *,
    session: Session,
    keyring: Keyring,
    kind: IdentityKind | str,
    value: str,
    channel: str,
    purpose: str = ALL_PURPOSES,
    reason: SuppressionReason,
    source: str | None = None,
    now: dt.datetime | None = None,
) -> Suppression:
    """Idempotent: suppressing twice keeps the first entry (and its date)."""
    index = suppression_index(keyring, kind, value)
    existing = session.scalar(
        select(Suppression).where(
            Suppression.blind_index == index,
            Suppression.channel == channel,
            Suppression.purpose == purpose,
        )
    )
    if existing is not None:
        return existing
    entry = Suppression(
        kind=IdentityKind(kind).value,
        blind_index=index,
        channel=channel,
        purpose=purpose,
        reason=reason.value,
        source=source,
        at=now or dt.datetime.now(dt.UTC),
    )
    session.add(entry)
    session.flush()
    return entry


def is_suppressed(*, session: Session, blind_index: str, channel: str, purpose: str) -> bool:
    return (
        session.scalar(
            select(Suppression.id)
            .where(
                Suppression.blind_index == blind_index,
                Suppression.channel == channel,
                Suppression.purpose.in_((purpose, ALL_PURPOSES)),
            )
            .limit(1)
        )
        is not None
    )


def suppression_count(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Suppression)) or 0
