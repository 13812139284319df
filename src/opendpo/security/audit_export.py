"""The audit log as CSV, read in batches so that a long log never sits in memory at once.

Every column is exported, the MACs included, so that anyone holding the MAC key can check the
exported chain independently of the database it came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.security.audit import AuditEntry, as_utc

EXPORT_BATCH = 1000
COLUMNS = (
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "client_address",
    "action",
    "target_kind",
    "target_id",
    "details",
    "prev_hash",
    "hash",
)


def entries_between(
    *,
    session: Session,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    batch: int = EXPORT_BATCH,
) -> Iterator[AuditEntry]:
    """Oldest first; `since` inclusive, `until` exclusive."""
    last = 0
    while True:
        statement = (
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        )
        if since is not None:
            statement = statement.where(AuditEntry.at >= since)
        if until is not None:
            statement = statement.where(AuditEntry.at < until)
        rows = session.scalars(statement).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()  # bounded memory on a long log


@dataclass(frozen=True)
class ExportResult:
    rows: int
    first_seq: int | None
    last_seq: int | None


def write_csv(handle: TextIO, entries: Iterator[AuditEntry]) -> ExportResult:
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    rows, first, last = 0, None, None
    for entry in entries:
        writer.writerow(
            (
                entry.seq,
                as_utc(entry.at).isoformat(),
                entry.actor_kind,
                entry.actor_id or "",
                entry.client_address or "",
                entry.action,
                entry.target_kind or "",
                entry.target_id or "",
                json.dumps(entry.details, sort_keys=True, separators=(",", ":")),
                entry.prev_hash,
                entry.hash,
            )
        )
        rows, last = rows + 1, entry.seq
        first = entry.seq if first is None else first
    return ExportResult(rows, first, last)
