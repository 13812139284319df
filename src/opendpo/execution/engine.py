"""Running a request's plan: start it, run a step, and see what can run next.

`start` writes the plan in the caller's transaction. `run_step` claims one step, does its
work through the phase modules, and records the outcome, the step's rows and its timeline
event in one transaction; it then runs on into the step that made ready first (see
`chain`), and gives the other ready steps to the caller (a queue worker, or `driving.drive`
in-process) to run. Failures that may pass are retried with backoff; the others stop the
step for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, lazyload

from opendpo.connectors.base import ConnectorError
from opendpo.errors import DomainError
from opendpo.execution import chain, phases
from opendpo.execution.planning import Phase, make_plan
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import (
    MAX_ATTEMPTS,
    StepState,
    StepStatus,
    add_steps,
    backoff,
    claim,
    dependencies_finished,
    ready_steps,
    release,
    request_of,
)
from opendpo.execution.systems import bindings
from opendpo.rights import workflow
from opendpo.rights.handling import deliver
from opendpo.rights.kinds import RequestKind, RequestStatus
from opendpo.rights.records import Request
from opendpo.rights.timeline import add_event
from opendpo.security.audit import Actor, ActorKind

logger = logging.getLogger("opendpo.execution")
ENGINE = Actor(ActorKind.SYSTEM, "engine")
# Told of a step as it starts (running) and as it ends (its outcome committed).
OnStep = Callable[[RequestStep], None]
STARTABLE = frozenset({RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS})
# A step rarely needs the request's pauses (only a completion does): load them on use, not
# with every request a step reads. Its identities come in the same round trip.
LEAN = (lazyload(Request.pauses), joinedload(Request.identities))


class CannotStart(DomainError):
    code = "cannot_start"


def verified_identities(request: Request) -> list[tuple[str, str]]:
    return [(i.kind, i.value) for i in request.identities if i.verified_at is not None]


def start(
    *,
    session: Session,
    runtime: Runtime,
    request: Request,
    actor: Actor,
    inputs: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> list[StepState]:
    """Plan the request and write its steps (in the caller's transaction); the pending
    steps that can run at once are returned for the caller to hand out after committing."""
    moment = now or dt.datetime.now(dt.UTC)
    if RequestStatus(request.status) not in STARTABLE:
        raise CannotStart(
            f"request {request.reference} is {request.status.replace('_', ' ')}: only a "
            "verified request can be run across systems"
        )
    if session.scalar(select(RequestStep.id).where(RequestStep.request_id == request.id)):
        raise CannotStart(
            f"request {request.reference} has already been planned: use `opendpo requests "
            "run` to carry on"
        )
    identities = verified_identities(request)
    if not identities:
        raise CannotStart(f"request {request.reference} has no verified identity")
    policy = runtime.policy(session)
    details = dict(request.details or {})
    details.update(inputs or {})
    plan = make_plan(
        kind=RequestKind(request.kind),
        identity_kinds=[kind for kind, _ in identities],
        systems=bindings(session=session, policy=policy),
        details=details,
    )
    phases.check_inputs(RequestKind(request.kind), plan, details)
    steps = add_steps(session=session, request_id=request.id, planned=plan.steps)
    if request.status == RequestStatus.VERIFIED.value:
        workflow.begin(session=session, request=request, actor=actor, now=moment)
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="plan",
        message=phases.describe_plan(plan),
        data={"steps": len(steps), "datasets": plan.traversal.datasets},
        now=moment,
    )
    session.flush()
    return ready_steps(steps)


def run_step(
    runtime: Runtime,
    step_id: int,
    *,
    hand_out: Callable[[str, list[int]], None] | None = None,
    on_step: OnStep | None = None,
    request_id: str | None = None,
) -> list[int]:
    """Run one step if it can be claimed, then (see execution.chain) each step after it that it
    made ready first. The ready steps left for others go to `hand_out` (with their request's
    id) as soon as they are known (a queue's workers take them in parallel), or are returned
    at the end. `on_step` is told of each step of the chain as it starts and once its outcome
    is committed. `request_id`, from a queue's message, is checked against the step's."""
    # One connection for the whole chain: each checkout costs a ping and a reset.
    with (
        runtime.engine.connect() as connection,
        runtime.session_factory(bind=connection) as session,
    ):
        now = dt.datetime.now(dt.UTC)
        step = claim(
            session=session, step_id=step_id, owner=runtime.owner, lease=runtime.lease, now=now,
            request_id=request_id,
        )  # fmt: skip
        if step is None:
            if request_id is not None:
                _check_ours(session, step_id, request_id)
            return []
        if not dependencies_finished(session=session, step=step):
            # A stray message or sweep: the step is handed out again once it is ready.
            release(session=session, step=step, owner=runtime.owner)
            return []
        request = session.get(Request, step.request_id, options=LEAN)
        assert request is not None  # a step's request is never deleted
        if RequestStatus(request.status) not in (
            RequestStatus.IN_PROGRESS,
            RequestStatus.AWAITING_ACTION,
        ):
            _settle(session, step, StepStatus.CANCELLED, f"the request is {request.status}")
            session.commit()
            return []
        chain.begin(session)
        left: dict[int, None] = {}
        taken: RequestStep | None = step
        while taken is not None:
            if on_step is not None:
                on_step(taken)
            running = taken
            ready, taken = _run_claimed(runtime, session, request, taken)
            if on_step is not None:
                on_step(running)
            others = [i for i in ready if i not in left and (taken is None or i != taken.id)]
            if hand_out is not None and others:
                hand_out(request.id, others)
            left.update(dict.fromkeys(others))
            if taken is not None:
                left.pop(taken.id, None)  # left earlier, taken on by the chain since
        return [] if hand_out is not None else list(left)


def _run_claimed(
    runtime: Runtime, session: Session, request: Request, step: RequestStep
) -> tuple[list[int], RequestStep | None]:
    """Run a claimed step; (ready steps, the one of them claimed to run next in this chain)."""
    try:
        outcome = phases.run(runtime, session, request, step)
    except ConnectorError as exc:
        session.rollback()
        _failed(session, runtime, step, exc.message, retry=exc.retryable, wait=exc.retry_after)
        return [], None
    except DomainError as exc:
        session.rollback()
        _failed(session, runtime, step, exc.message, retry=False)
        return [], None
    except Exception:  # a bug or an unforeseen failure: keep the step for retry
        logger.exception("step %s of request %s failed", step.seq, step.request_id)
        session.rollback()
        _failed(session, runtime, step, "an unexpected error (see the worker's log)", retry=True)
        return [], None
    if outcome is None:  # lost the lease part way: whoever took over finishes
        session.rollback()
        return [], None
    steps = chain.ready_now(session, step.request_id)
    ready = [s.id for s in ready_steps(steps)]
    taken = None
    if ready and not outcome.letters:
        now = dt.datetime.now(dt.UTC)
        taken = chain.claim_next(
            session, step_id=ready[0], owner=runtime.owner, lease=runtime.lease, now=now
        )
    session.commit()
    if outcome.letters:
        deliver(
            session=session, mailer=runtime.mailer, request=request, sent=outcome.letters,
            actor=ENGINE,
        )  # fmt: skip
    if taken is None:
        _await_if_waiting(session, request.id, steps, ready)
    return ready, taken


def _check_ours(session: Session, step_id: int, request_id: str) -> None:
    """A message for a step this store does not hold came from another installation sharing
    the queue. Its own workers' sweep hands the step out again once the lease the message
    carried runs out, so nothing is lost, but every such step waits that long: say so."""
    held = request_of(session=session, step_id=step_id)
    if held != request_id:
        logger.warning(
            "the queue handed this worker step %s of request %s, which this store does not "
            "hold: another installation is working the same task queue. Give each its own "
            "OPENDPO_TASK_QUEUE_NAME (Redis) or OPENDPO_TASK_QUEUE_PATH (embedded)",
            step_id,
            request_id,
        )


def _failed(
    session: Session,
    runtime: Runtime,
    step: RequestStep,
    message: str,
    *,
    retry: bool,
    wait: float | None = None,
) -> None:
    """Put the step back for a later attempt, or stop it; `wait` is the seconds the system
    asked for (Retry-After): never sooner than that, nor sooner than the backoff."""
    step = session.get(RequestStep, step.id, populate_existing=True) or step
    if step.lease_owner != runtime.owner or step.status != StepStatus.RUNNING:
        return  # someone else has it now
    now = dt.datetime.now(dt.UTC)
    request = session.get(Request, step.request_id)
    assert request is not None
    if retry and step.attempts < MAX_ATTEMPTS:
        step.status = StepStatus.PENDING.value
        step.next_attempt_at = now + max(
            backoff(step.attempts), dt.timedelta(seconds=max(wait or 0.0, 0.0))
        )
        step.lease_owner = None
        # Not handed out again before it is due; the sweep hands it out then.
        step.lease_expires_at = step.next_attempt_at
        kind, public = "step_retry", False
        again = f"{step.next_attempt_at:%H:%M:%S}"
        text = f"{phases.step_title(step)}: {message}; trying again at {again} UTC"
    else:
        step.status = StepStatus.FAILED.value
        step.lease_owner = None
        step.finished_at = now
        kind, public = "step_failed", False
        text = f"{phases.step_title(step)}: {message}" + (
            "" if not retry else f" (gave up after {step.attempts} attempts)"
        )
    step.error = message[:1000]
    add_event(
        session=session,
        request=request,
        actor=ENGINE,
        kind=kind,
        message=text,
        data={"step": step.seq, "attempt": step.attempts},
        public=public,
        now=now,
    )
    session.commit()


def _settle(
    session: Session, step: RequestStep, status: StepStatus, error: str | None = None
) -> None:
    step.status = status.value
    step.lease_owner = None
    step.lease_expires_at = None
    step.finished_at = dt.datetime.now(dt.UTC)
    step.error = error


def _await_if_waiting(
    session: Session, request_id: str, steps: Sequence[StepState], ready: Sequence[int]
) -> None:
    """Only a person can move the request on now (steps wait on them, none can run): the
    queue shows it as waiting."""
    busy = bool(ready) or any(s.status == StepStatus.RUNNING for s in steps)
    waiting = [s for s in steps if s.status == StepStatus.WAITING]
    if not waiting or busy:
        return
    request = session.get(Request, request_id, populate_existing=True, options=LEAN)
    if request is not None and request.status == RequestStatus.IN_PROGRESS:
        workflow.await_action(
            session=session,
            request=request,
            actor=ENGINE,
            waiting_for="; ".join(
                f"{phases.step_title(s)}: {s.summary.get('waiting_for', 'staff')}" for s in waiting
            ),
        )
        session.commit()


def retry_failed(*, session: Session, request: Request, actor: Actor) -> list[RequestStep]:
    """Give failed steps another go (after a person fixed the cause); they are returned."""
    now = dt.datetime.now(dt.UTC)
    steps = list(
        session.scalars(
            select(RequestStep).where(
                RequestStep.request_id == request.id,
                RequestStep.status == StepStatus.FAILED.value,
            )
        )
    )
    for step in steps:
        step.status = StepStatus.PENDING.value
        step.attempts = 0
        step.next_attempt_at = None
        step.lease_expires_at = None
        step.error = None
    if steps:
        add_event(
            session=session,
            request=request,
            actor=actor,
            kind="step_retry",
            message=f"failed steps tried again: {', '.join(phases.step_title(s) for s in steps)}",
            data={"steps": [s.seq for s in steps]},
            now=now,
        )
    return steps


__all__ = ["OnStep", "Phase", "retry_failed", "run_step", "start"]
