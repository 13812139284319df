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
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from opendpo.execution.records import STEPS_TABLE, RequestStep
from opendpo.execution.steps import StepStatus, claimable
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


def ready_now(session: Session, request_id: str) -> list[RequestStep]:
    """The request's steps as they stand in this transaction (ours flushed, others' committed)."""
    session.flush()
    return list(
        session.scalars(
            select(RequestStep)
            .where(RequestStep.request_id == request_id)
            .order_by(RequestStep.seq)
            .execution_options(populate_existing=True)
        )
    )


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
    steps = STEPS_TABLE
    live = exists().where(Request.id == steps.c.request_id, Request.status.in_(LIVE))
    claimed = {
        "status": StepStatus.RUNNING.value,
        "lease_owner": owner,
        "lease_expires_at": now + lease,
        "started_at": now,
        "error": None,
    }
    # A Core UPDATE: the ORM's would load the whole row back (decrypting its inputs) for the
    # few columns the claim changes, which are set on the step as read by `ready_now`.
    attempts = session.scalar(
        update(steps)
        .where(steps.c.id == step_id, claimable(now), live)
        .values(**claimed, attempts=steps.c.attempts + 1)
        .returning(steps.c.attempts)
    )
    if attempts is None:
        return None
    step = session.get(RequestStep, step_id)
    if step is None:  # not possible: the row was just updated in this transaction
        return None
    for name, value in (*claimed.items(), ("attempts", attempts)):
        set_committed_value(step, name, value)
    return step
