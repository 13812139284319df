"""A request's timeline: every change is an event saying who, when, what and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from opendpo.rights.records import Request, RequestEvent
from opendpo.security.audit import Actor


def add_event(
    *,
    session: Session,
    request: Request,
    actor: Actor,
    kind: str,
    message: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
    from_status: str | None = None,
    to_status: str | None = None,
    now: dt.datetime,
) -> RequestEvent:
    event = RequestEvent(
        request_id=request.id,
        at=now,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        message=message,
        data=data or {},
        public=public,
    )
    session.add(event)
    return event


def write_event(
    *,
    session: Session,
    request_id: str,
    actor: Actor,
    kind: str,
    message: str,
    data: dict[str, Any],
    public: bool,
    now: dt.datetime,
) -> None:
    """`add_event` as one INSERT, sent now: for the engine's steps, where the ORM's flush of
    a new object (and reading its id back) costs more than the insert itself."""
    table = RequestEvent.__table__
    assert isinstance(table, Table)
    session.execute(
        insert(table),
        {
            "request_id": request_id,
            "at": now,
            "actor_kind": actor.kind.value,
            "actor_id": actor.id,
            "kind": kind,
            "from_status": None,
            "to_status": None,
            "message": message,
            "data": data,
            "public": public,
        },
    )


def events(
    *, session: Session, request_id: str, public_only: bool = False
) -> Sequence[RequestEvent]:
    """Oldest first. `public_only`: what the person may read on the privacy centre."""
    query = select(RequestEvent).where(RequestEvent.request_id == request_id)
    if public_only:
        query = query.where(RequestEvent.public.is_(True))
    return session.scalars(query.order_by(RequestEvent.at, RequestEvent.id)).all()
