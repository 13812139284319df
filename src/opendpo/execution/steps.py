"""Claiming, finishing and retrying steps: the store side of the engine, one statement each.

A step is claimed by a conditional UPDATE, so that of two workers handed the same step only
one runs it; the claim is a lease that the runner renews while it works. A worker killed
mid-step simply stops renewing: once the lease has run out, the recovery sweep hands the
step to another worker, and the step's idempotent work is done again without doubling.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from opendpo.execution.records import STEPS_TABLE, RequestStep

if TYPE_CHECKING:  # planning reads the systems, which read this module
    from opendpo.execution.planning import PlannedStep


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # on a person: a manual task, a processor's answer
    DONE = "done"
    FAILED = "failed"  # gave up, or cannot succeed without a person changing something
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


FINISHED = frozenset({StepStatus.DONE, StepStatus.SKIPPED})
# Steps written per INSERT when a plan is started.
PLAN_ROWS = 50
MAX_ATTEMPTS = 8
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 1800.0


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s … up to half an hour: a system that is down gets time to come back."""
    seconds = min(FIRST_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return dt.timedelta(seconds=seconds)


class StepView(Protocol):
    """What telling a step's readiness and naming it reads: a stored step, or a StepState."""

    @property
    def id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def phase(self) -> str: ...
    @property
    def system(self) -> str | None: ...
    @property
    def dataset(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def depends_on(self) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class StepState:
    """A step as the engine reads it between steps: its place in the plan and its status,
    without the encrypted columns a stored step would decrypt on loading."""

    id: int
    seq: int
    phase: str
    system: str | None
    dataset: str | None
    status: str
    depends_on: list[int]
    summary: dict[str, Any]


AnyStep = TypeVar("AnyStep", bound=StepView)


def add_steps(
    *, session: Session, request_id: str, planned: Sequence[PlannedStep]
) -> list[StepState]:
    """Write a plan's steps, all pending, in one statement; the steps as written, with ids."""
    rows = [
        {
            "request_id": request_id,
            "seq": step.seq,
            "phase": step.phase.value,
            "system": step.system,
            "dataset": step.dataset,
            "status": StepStatus.PENDING.value,
            "depends_on": step.depends_on,
            "attempts": 0,
            "summary": {},
            "inputs": step.inputs,
        }
        for step in planned
    ]
    if not rows:
        return []
    steps = STEPS_TABLE
    ids: dict[int, int] = {}
    if session.get_bind().dialect.insert_returning:
        # A few rows to a statement: ten parameters each, under every database's limit.
        for start in range(0, len(rows), PLAN_ROWS):
            chunk = rows[start : start + PLAN_ROWS]
            written = session.execute(
                insert(steps).values(chunk).returning(steps.c.seq, steps.c.id)
            )
            ids.update(written.all())
    else:
        session.execute(insert(steps), rows)
        written = session.execute(
            select(steps.c.seq, steps.c.id).where(steps.c.request_id == request_id)
        )
        ids.update(written.all())
    return [
        StepState(
            ids[step.seq],
            step.seq,
            step.phase.value,
            step.system,
            step.dataset,
            StepStatus.PENDING.value,
            step.depends_on,
            {},
        )
        for step in planned
    ]


def claimable(now: dt.datetime | ColumnElement[dt.datetime]) -> ColumnElement[bool]:
    """Due and unheld, or held by a lease that ran out."""
    return or_(
        and_(
            RequestStep.status == StepStatus.PENDING,
            or_(RequestStep.next_attempt_at.is_(None), RequestStep.next_attempt_at <= now),
        ),
        and_(RequestStep.status == StepStatus.RUNNING, RequestStep.lease_expires_at < now),
    )


def claim(
    *,
    session: Session,
    step_id: int,
    owner: str,
    lease: dt.timedelta,
    now: dt.datetime,
    request_id: str | None = None,
) -> RequestStep | None:
    """Take the step if it is due and nobody holds it (or their lease ran out), and, given
    `request_id`, if it is that request's; else None.

    Commits, so the claim is visible to every other worker before the work starts.
    """
    ours = () if request_id is None else (RequestStep.request_id == request_id,)
    taking = (
        update(RequestStep)
        .where(RequestStep.id == step_id, claimable(now), *ours)
        .values(
            status=StepStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=RequestStep.attempts + 1,
            started_at=now,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    bind = session.get_bind()
    if bind.dialect.update_returning:
        # The claim and the step in one round trip.
        step = session.scalars(taking.returning(RequestStep)).one_or_none()
        session.commit()
        return step
    result = session.execute(taking)
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(RequestStep, step_id, populate_existing=True)


def renew(*, session: Session, step_id: int, owner: str, lease: dt.timedelta) -> bool:
    """Extend our lease; False when it was lost (taken over after we stalled): stop work."""
    now = dt.datetime.now(dt.UTC)
    result = session.execute(
        update(RequestStep)
        .where(
            RequestStep.id == step_id,
            RequestStep.lease_owner == owner,
            RequestStep.status == StepStatus.RUNNING,
        )
        .values(lease_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def still_ours(step: RequestStep, owner: str) -> bool:
    return step.status == StepStatus.RUNNING and step.lease_owner == owner


def ready_steps(steps: Sequence[AnyStep]) -> list[AnyStep]:
    """Pending steps whose dependencies have all finished."""
    finished = {s.seq for s in steps if s.status in FINISHED}
    return [
        s
        for s in steps
        if s.status == StepStatus.PENDING and all(d in finished for d in s.depends_on)
    ]


def claimable_ids(*, session: Session, now: dt.datetime, limit: int = 500) -> list[tuple[str, int]]:
    """Steps the recovery sweep should hand out, as (request id, step id): due and unheld, or
    held past their lease.

    A pending step that was handed to the queue carries a lease too (`lease_expires_at`):
    it is not handed out again until that runs out, so the queue does not fill with copies.
    """
    candidates = session.scalars(
        select(RequestStep)
        .where(
            or_(
                and_(
                    RequestStep.status == StepStatus.PENDING,
                    or_(RequestStep.next_attempt_at.is_(None), RequestStep.next_attempt_at <= now),
                    or_(
                        RequestStep.lease_expires_at.is_(None),
                        RequestStep.lease_expires_at < now,
                    ),
                ),
                and_(RequestStep.status == StepStatus.RUNNING, RequestStep.lease_expires_at < now),
            )
        )
        .order_by(RequestStep.id)
        .limit(limit)
    ).all()
    # A pending step is only due once the steps it depends on have finished.
    waiting_on = {c.request_id for c in candidates if c.depends_on}
    finished: set[tuple[str, int]] = set()
    if waiting_on:
        finished = {
            (request_id, seq)
            for request_id, seq in session.execute(
                select(RequestStep.request_id, RequestStep.seq).where(
                    RequestStep.request_id.in_(waiting_on),
                    RequestStep.status.in_([s.value for s in FINISHED]),
                )
            )
        }
    return [
        (c.request_id, c.id)
        for c in candidates
        if all((c.request_id, seq) in finished for seq in c.depends_on)
    ]


def request_of(*, session: Session, step_id: int) -> str | None:
    """The request the step belongs to; None when this store has no such step."""
    return session.scalar(select(RequestStep.request_id).where(RequestStep.id == step_id))


def dependencies_finished(*, session: Session, step: RequestStep) -> bool:
    if not step.depends_on:
        return True
    done = session.scalars(
        select(RequestStep.seq).where(
            RequestStep.request_id == step.request_id,
            RequestStep.seq.in_(step.depends_on),
            RequestStep.status.in_([s.value for s in FINISHED]),
        )
    ).all()
    return len(set(done)) == len(set(step.depends_on))


def release(*, session: Session, step: RequestStep, owner: str) -> None:
    """Give back a claim taken too early (a dependency had not finished): it never ran."""
    session.execute(
        update(RequestStep)
        .where(RequestStep.id == step.id, RequestStep.lease_owner == owner)
        .values(
            status=StepStatus.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            attempts=RequestStep.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def mark_handed_out(*, session: Session, step_ids: Sequence[int], until: dt.datetime) -> None:
    """Note that these pending steps are on the queue until `until` (see claimable_ids)."""
    if not step_ids:
        return
    session.execute(
        update(RequestStep)
        .where(RequestStep.id.in_(step_ids), RequestStep.status == StepStatus.PENDING)
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
