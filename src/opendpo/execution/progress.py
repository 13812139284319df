"""Where a request's run stands: its steps, the files they made or were given, and which
steps can run next (for whoever changed something to hand them to the queue)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opendpo.errors import NotFound
from opendpo.execution.planning import Phase
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.steps import ready_steps
from opendpo.security.audit import as_utc


def request_steps(*, session: Session, request_id: str) -> list[RequestStep]:
    """The request's plan, in order; empty before it is run."""
    return list(
        session.scalars(
            select(RequestStep)
            .where(RequestStep.request_id == request_id)
            .order_by(RequestStep.seq)
        )
    )


def request_step(*, session: Session, request_id: str, seq: int) -> RequestStep:
    step = session.scalar(
        select(RequestStep).where(RequestStep.request_id == request_id, RequestStep.seq == seq)
    )
    if step is None:
        raise NotFound("step", str(seq))
    return step


def request_files(
    *, session: Session, request_id: str, now: dt.datetime | None = None
) -> list[StoredFile]:
    """The request's files that were written in full and have not expired, oldest first."""
    moment = now or dt.datetime.now(dt.UTC)
    return list(
        session.scalars(
            select(StoredFile)
            .where(
                StoredFile.request_id == request_id,
                StoredFile.completed_at.is_not(None),
                or_(StoredFile.expires_at.is_(None), StoredFile.expires_at > moment),
            )
            .order_by(StoredFile.created_at, StoredFile.id)
        )
    )


def ready_step_ids(
    *, session: Session, request_id: str, now: dt.datetime | None = None
) -> list[int]:
    """Steps that can run now and are not already on the queue: to hand out after a commit."""
    moment = now or dt.datetime.now(dt.UTC)
    return [
        s.id
        for s in ready_steps(request_steps(session=session, request_id=request_id))
        if s.lease_expires_at is None or as_utc(s.lease_expires_at) <= moment
    ]


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return sum(int(v) for v in value.values() if isinstance(v, int | float))
    return None


def rows_found(step: RequestStep) -> int | None:
    """Rows a find step found, over all its collections; None for other phases."""
    if step.phase != Phase.FIND.value:
        return None
    return _count((step.summary or {}).get("rows"))


def rows_changed(step: RequestStep) -> int | None:
    """Rows a change or finishing step changed (per collection or in all); None if none said."""
    return _count((step.summary or {}).get("changed"))
