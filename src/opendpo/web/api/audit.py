"""The audit log over the API: the same filters as the console's search, newest first.

Entries hold ids and action names, never personal data values, so reading them is not itself
written to the log (it would log every read of the log, forever); exporting is, in the console.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.security import audit
from opendpo.security.audit import AuditEntry, AuditQuery, as_utc
from opendpo.web.auth import AuditReader
from opendpo.web.dependencies import SessionDep

router = APIRouter(tags=["audit"])

MAX_PAGE = 500


class AuditEntryPublic(BaseModel):
    seq: int
    at: dt.datetime
    actor_kind: str
    actor_id: str | None
    client_address: str | None
    action: str
    target_kind: str | None
    target_id: str | None
    details: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    # Pass as `before_seq` for the next, older page; null when there is none.
    next_before_seq: int | None


def entry_public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(
        seq=entry.seq,
        at=as_utc(entry.at),
        actor_kind=entry.actor_kind,
        actor_id=entry.actor_id,
        client_address=entry.client_address,
        action=entry.action,
        target_kind=entry.target_kind,
        target_id=entry.target_id,
        details=entry.details,
        hash=entry.hash,
    )


def _day(text: str | None, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(field, "give a date as YYYY-MM-DD") from None


def audit_query(
    *,
    actor_id: str | None = None,
    action: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> AuditQuery:
    """The search for these filters; both dates are whole UTC days and both are included."""
    first = _day(date_from, "from")
    last = _day(date_to, "to")
    if first and last and last < first:
        raise InvalidValue("to", "the last day comes before the first")
    return AuditQuery(
        actor_id=(actor_id or "").strip() or None,
        action=(action or "").strip() or None,
        target_kind=(target_kind or "").strip() or None,
        target_id=(target_id or "").strip() or None,
        since=dt.datetime.combine(first, dt.time(), dt.UTC) if first else None,
        until=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC) if last else None,
    )


def search_page(
    *, session: Session, query: AuditQuery, limit: int, before_seq: int | None
) -> tuple[list[AuditEntry], int | None]:
    """One page of entries, and the `before_seq` of the next page if there is one."""
    # One more than asked tells whether an older page exists without a count query.
    found = list(audit.search(session=session, query=query, limit=limit + 1, before_seq=before_seq))
    entries = found[:limit]
    more = len(found) > limit and bool(entries)
    return entries, entries[-1].seq if more else None


@router.get("/audit", response_model=AuditPage, summary="Search the audit log, newest first")
def audit_search(
    auth: AuditReader,
    session: SessionDep,
    actor_id: str | None = None,
    action: Annotated[str | None, Query(description="Actions starting with this")] = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    date_from: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD, included")] = None,
    before_seq: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditPage:
    query = audit_query(
        actor_id=actor_id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        date_from=date_from,
        date_to=date_to,
    )
    entries, next_before = search_page(
        session=session, query=query, limit=limit, before_seq=before_seq
    )
    return AuditPage(items=[entry_public(e) for e in entries], next_before_seq=next_before)
