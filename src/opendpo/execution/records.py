"""The stored shape of running a request: its steps, the rows they found, and files made.

A request's plan is a handful of steps, one per system and phase (find the person's rows in
the CRM; mask them; package what was found). Each step is claimed with a lease, so a worker
that dies leaves a step another worker can take once the lease runs out; and each step's
work is idempotent, so taking it again does nothing twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from opendpo.store.base import Base
from opendpo.store.encrypted import Encrypted, EncryptedBytes, EncryptedJSON


class ConnectedSystem(Base):
    """A connection added with `opendpo systems add`: it overrides the policy's own block.

    The whole configuration is encrypted: it may hold a password or an API token.
    """

    __tablename__ = "connected_systems"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("connected_systems.config"))
    # Datasets (fides_key) read from files given to `systems add`, kept whole: a system may
    # be connected before the policy declares its dataset.
    datasets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    added_by: Mapped[str | None] = mapped_column(String(100))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RequestStep(Base):
    """One step of a request's plan: a phase (find, erase, package …) on one system."""

    __tablename__ = "request_steps"
    __table_args__ = (
        UniqueConstraint("request_id", "seq"),
        # What the recovery sweep looks for: pending steps that are due, expired leases.
        Index("ix_request_steps_claimable", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(20))
    system: Mapped[str | None] = mapped_column(String(100))
    dataset: Mapped[str | None] = mapped_column(String(200))
    # pending, running, waiting (on a person: manual task, processor's answer), done,
    # failed (a person must look), skipped, cancelled.
    status: Mapped[str] = mapped_column(String(20))
    depends_on: Mapped[list[int]] = mapped_column(JSON, default=list)  # seq numbers
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Counts and names only (rows per collection, fields changed): shown to staff as is.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Values later steps need (a customer id found in billing, used by support): personal.
    # Only the steps that take them read them (undefer): not decrypted with every step read.
    outputs: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("request_steps.outputs"), deferred=True
    )
    # What a step was given to do beyond its phase (fields to correct, a processor's answer).
    inputs: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("request_steps.inputs"))
    error: Mapped[str | None] = mapped_column(String(1000))


# The steps' table as such, for the Core statements of a step's hot path (see phases.record).
STEPS_TABLE = cast(Table, RequestStep.__table__)


def row_value(value: Any) -> Any:
    """A found value JSON has no type for, kept readable and typed by its text: bytes as hex,
    dates and times in ISO 8601, anything else (decimals, UUIDs) as its string."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return str(value)


class StepRows(Base):
    """A batch of rows a step found, encrypted; read back in (attempt, collection, seq) order.

    Rows written by an attempt that did not finish are ignored and removed: the step's
    `summary["attempt"]` names the attempt whose rows count.
    """

    __tablename__ = "step_rows"
    __table_args__ = (Index("ix_step_rows_step", "step_id", "attempt", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("request_steps.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    collection: Mapped[str] = mapped_column(String(200))
    # Rows as the connector gave them: the column writes what JSON cannot hold by `row_value`
    # as it encodes, a single pass (a million rows go through here).
    rows: Mapped[list[dict[str, Any]]] = mapped_column(
        EncryptedJSON("step_rows.rows", default=row_value, sort_keys=False)
    )


class StoredFile(Base):
    """A file OpenDPO made or was given for a request: an access package, an erasure report,
    a manual task's attachment. Its bytes are kept in blocks, each encrypted on its own."""

    __tablename__ = "stored_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("request_steps.id"))
    # access_package, portability_package, erasure_report, attachment
    purpose: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(Encrypted("stored_files.name"))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    blocks: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Written in full: a file whose writer died part way is never served.
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_by: Mapped[str | None] = mapped_column(String(100))


class FileBlock(Base):
    __tablename__ = "file_blocks"

    file_id: Mapped[str] = mapped_column(ForeignKey("stored_files.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Encrypted like every column (so key rotation covers it); the plaintext starts with
    # (file, seq, last?) so that blocks cannot be swapped between files or cut short.
    data: Mapped[bytes] = mapped_column(EncryptedBytes("file_blocks.data"))
