"""Running a request's steps one after another in one worker, one connection and one session.

A step that makes exactly the next step ready hands it on without a trip through the queue:
the next step is claimed in the same transaction that records this one, so the request's
chain of small steps costs one commit per step, not three. What the steps of a chain share is
read once when the chain begins: the policy in force and the connected systems (a policy
applied meanwhile serves the next chain, milliseconds later), and the outputs the chain's own
steps hand to later ones. Steps that can run side by side are still handed out to other
workers: a chain only ever takes the first.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import DateTime, Select, bindparam, exists, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from opendpo.execution.records import STEPS_TABLE, RequestStep
from opendpo.execution.steps import StepState, StepStatus, claimable
from opendpo.rights.kinds import RequestStatus
from opendpo.rights.records import Request

# Where a chain's session keeps what its steps share (session.info is the session's own).
CACHE = "opendpo.chain"
# A request whose steps may run.
LIVE = (RequestStatus.IN_PROGRESS.value, RequestStatus.AWAITING_ACTION.value)


def begin(session: Session) -> None:
    """Mark the session as a chain's: reads of the policy and systems are kept for its steps."""
    session.info[CACHE] = {}


def cache(session: Session) -> dict[str, Any] | None:
    """The chain's shared reads, or None outside a chain (then everything is read afresh)."""
    found: dict[str, Any] | None = session.info.get(CACHE)
    return found


def ready_now(session: Session, request_id: str) -> list[StepState]:
    """The request's steps as they stand in this transaction (ours flushed, others' committed)."""
    session.flush()
    return [StepState(*row) for row in session.execute(_reading(), {"chain_request": request_id})]


def claim_next(
    session: Session,
    *,
    step_id: int,
    owner: str,
    lease: dt.timedelta,
    now: dt.datetime,
) -> RequestStep | None:
    """Claim a ready step in the caller's transaction, while its request is still running (a
    request cancelled meanwhile is left to the step's normal hand-out, which cancels it)."""
    if not session.get_bind().dialect.update_returning:
        return None  # the step goes through the queue instead
    # The claim and the step in one round trip.
    return session.scalars(
        _claiming(),
        {"claim_step": step_id, "claim_now": now, "claim_owner": owner, "claim_until": now + lease},
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).one_or_none()


# The chain's statements are built once: building one, and its cache key, cost more than a
# small statement's round trip. Built on first use, not at import.
@functools.cache
def _reading() -> Select[Any]:
    steps = STEPS_TABLE
    return (
        select(
            steps.c.id,
            steps.c.seq,
            steps.c.phase,
            steps.c.system,
            steps.c.dataset,
            steps.c.status,
            steps.c.depends_on,
            steps.c.summary,
        )
        .where(steps.c.request_id == bindparam("chain_request"))
        .order_by(steps.c.seq)
    )


@functools.cache
def _claiming() -> ReturningUpdate[Any]:
    now = bindparam("claim_now", type_=DateTime(timezone=True))
    live = exists().where(Request.id == RequestStep.request_id, Request.status.in_(LIVE))
    return (
        update(RequestStep)
        .where(RequestStep.id == bindparam("claim_step"), claimable(now), live)
        .values(
            status=StepStatus.RUNNING.value,
            lease_owner=bindparam("claim_owner"),
            lease_expires_at=bindparam("claim_until", type_=DateTime(timezone=True)),
            attempts=RequestStep.attempts + 1,
            started_at=now,
            error=None,
        )
        .returning(RequestStep)
    )
