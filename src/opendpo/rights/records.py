"""The stored shape of a request: the request, its identities, codes, timeline and pauses.

What a person wrote (details, notes, reasons) and every identity value are encrypted at rest;
identities are found by blind index. A request never points at a person until one of its
identities is verified: before that, nothing about who is on file may leak.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opendpo.store.base import Base
from opendpo.store.encrypted import Encrypted, EncryptedJSON


class Request(Base):
    __tablename__ = "rights_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # What the person and staff quote: short, unambiguous, not guessable in sequence.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The clock starts at the latest of receipt, identity and a third party's authority.
    authority_on: Mapped[dt.date | None] = mapped_column(Date)
    clock_starts_on: Mapped[dt.date | None] = mapped_column(Date)
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    original_due_on: Mapped[dt.date | None] = mapped_column(Date)
    extended_months: Mapped[int] = mapped_column(Integer, default=0)
    extension_reason: Mapped[str | None] = mapped_column(Encrypted("rights_requests.extension"))
    extension_told_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"), index=True)
    duplicate_of: Mapped[str | None] = mapped_column(ForeignKey("rights_requests.id"))
    assigned_to: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # What the person asked, in their words and the form's fields: free text, fields to
    # correct, objection grounds, a portability destination, the complaint.
    details: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("rights_requests.details"))
    refusal_reason: Mapped[str | None] = mapped_column(String(40))
    # The response the person reads on the privacy centre (the letter's text).
    response: Mapped[str | None] = mapped_column(Encrypted("rights_requests.response"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(100))  # staff id or API key id
    evidence: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("rights_requests.evidence")
    )
    opendsr_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    callback_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Optimistic locking: two staff members acting at once cannot both win silently.
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    identities: Mapped[list[RequestIdentity]] = relationship(
        back_populates="request", order_by="RequestIdentity.id", lazy="selectin"
    )
    pauses: Mapped[list[RequestPause]] = relationship(order_by="RequestPause.id", lazy="selectin")


class RequestIdentity(Base):
    """One identity the person gave; each is verified on its own."""

    __tablename__ = "request_identities"
    __table_args__ = (UniqueConstraint("request_id", "kind", "blind_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Encrypted("request_identities.value"))
    blind_index: Mapped[str] = mapped_column(String(64), index=True)
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # "code" for a code the person typed, else the staff member's id.
    verified_by: Mapped[str | None] = mapped_column(String(40))
    evidence: Mapped[str | None] = mapped_column(Encrypted("request_identities.evidence"))
    # The one-time code: a keyed hash, its expiry, and how often it was tried and sent.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)
    code_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    request: Mapped[Request] = relationship(back_populates="identities")


class RequestEvent(Base):
    """One line of a request's timeline: who did what, when and why."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    # Notes and reasons may name people: encrypted. Facts (dates, counts) go in `data`.
    message: Mapped[str | None] = mapped_column(Encrypted("request_events.message"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Shown to the person on the privacy centre (status changes, letters), or staff only.
    public: Mapped[bool] = mapped_column(default=False)


class RequestPause(Base):
    """The clock stopped while waiting for a clarification the controller genuinely needs."""

    __tablename__ = "request_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    started_on: Mapped[dt.date] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Encrypted("request_pauses.reason"))


class RequestReminder(Base):
    """A reminder sent to staff, once per request, kind and due date, however many workers."""

    __tablename__ = "request_reminders"
    __table_args__ = (UniqueConstraint("request_id", "kind", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # due_soon, overdue
    due_on: Mapped[dt.date] = mapped_column(Date)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class StatusCallback(Base):
    """An OpenDSR status callback owed to a controller: kept until delivered, retried."""

    __tablename__ = "status_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(30))  # the request status being announced
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
