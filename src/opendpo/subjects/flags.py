"""Objections and restrictions on a person: flags the decision point honours.

An objection (Art 21) or a restriction (Art 18) applies to one purpose or, with purpose
`*`, to every purpose. Lifting keeps the row (with when and why): the history is evidence.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.store.base import Base

ALL_PURPOSES = "*"


class FlagKind(StrEnum):
    OBJECTION = "objection"
    RESTRICTION = "restriction"


class ProcessingFlag(Base):
    __tablename__ = "processing_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(120))  # a purpose key, or * for every one
    reason: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str | None] = mapped_column(String(100))  # e.g. a request id
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_reason: Mapped[str | None] = mapped_column(String(300))


def add_flag(
    *,
    session: Session,
    person_id: str,
    kind: FlagKind,
    purpose: str = ALL_PURPOSES,
    reason: str | None = None,
    source: str | None = None,
    now: dt.datetime | None = None,
) -> ProcessingFlag:
    flag = ProcessingFlag(
        person_id=person_id,
        kind=kind.value,
        purpose=purpose,
        reason=reason,
        source=source,
        at=now or dt.datetime.now(dt.UTC),
    )
    session.add(flag)
    session.flush()
    return flag


def lift_flag(
    *, session: Session, flag: ProcessingFlag, reason: str, now: dt.datetime | None = None
) -> None:
    flag.lifted_at = now or dt.datetime.now(dt.UTC)
    flag.lifted_reason = reason


def active_flags(*, session: Session, person_id: str) -> list[ProcessingFlag]:
    return list(
        session.scalars(
            select(ProcessingFlag).where(
                ProcessingFlag.person_id == person_id, ProcessingFlag.lifted_at.is_(None)
            )
        )
    )
