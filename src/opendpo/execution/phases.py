"""What each phase of a plan does, and how a step's outcome is recorded.

A step's outcome (status, counts, outputs for later steps, the rows it found) and its line
on the request's timeline are written together, and only while the step's lease is still
ours: a worker that stalled and lost its step to another records nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from opendpo.errors import InvalidValue
from opendpo.execution import chain, changing, notices, person_steps, transmission
from opendpo.execution import closing as closing_step
from opendpo.execution.finding import find_dataset, identity_values
from opendpo.execution.outcome import Heartbeat, LeaseLost, Outcome
from opendpo.execution.planning import Phase, Plan, make_plan
from opendpo.execution.records import STEPS_TABLE, RequestStep
from opendpo.execution.rowstore import RowSink, discard_other_attempts, json_ready, write_batches
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import StepStatus, StepView
from opendpo.execution.systems import SystemBinding, bindings
from opendpo.rights.kinds import RequestKind
from opendpo.rights.records import Request
from opendpo.rights.timeline import write_event
from opendpo.security.audit import Actor, ActorKind

ENGINE = Actor(ActorKind.SYSTEM, "engine")


def step_title(step: StepView) -> str:
    where = step.dataset or step.system
    return f"step {step.seq} ({step.phase}{' ' + where if where else ''})"


def describe_plan(plan: Plan) -> str:
    parts = []
    for planned in plan.steps:
        where = planned.dataset or planned.system or "request"
        parts.append(f"{planned.seq}. {planned.phase.value} {where}")
    return "Plan: " + "; ".join(parts)


def check_inputs(kind: RequestKind, plan: Plan, details: dict[str, Any]) -> None:
    """Refuse at planning what could only fail later (a rectification saying nothing)."""
    if kind is RequestKind.RECTIFICATION:
        corrections = details.get("corrections")
        if not isinstance(corrections, dict) or not corrections:
            raise InvalidValue(
                "corrections",
                "say which fields to correct and their new values (e.g. "
                "user.job_title=Finance Director); the person's own words are in the request",
            )
        changing.check_corrections(corrections, plan.traversal)


def plan_for(
    runtime: Runtime, session: Session, request: Request
) -> tuple[Plan, list[SystemBinding]]:
    """The request's plan as it runs now (the traversal each step reads by)."""
    policy = runtime.policy(session)
    systems = bindings(session=session, policy=policy)
    kinds = [i.kind for i in request.identities if i.verified_at is not None]
    shared = chain.cache(session)
    key = f"plan {request.kind} {' '.join(kinds)}"
    held = shared.get(key) if shared is not None else None
    if held is not None and held[0] is policy:  # the chain's steps share one plan
        return held[1], systems
    plan = make_plan(
        kind=RequestKind(request.kind),
        identity_kinds=kinds,
        systems=systems,
    )
    if shared is not None:
        shared[key] = (policy, plan)
    return plan, systems


def run(runtime: Runtime, session: Session, request: Request, step: RequestStep) -> Outcome | None:
    """Do the step's work and record its outcome; None when the lease was lost meanwhile."""
    with runtime.leases.keep(step.id, runtime.owner) as keeper:
        try:
            outcome = _work(runtime, session, request, step, keeper.check)
        except LeaseLost:
            return None
        return outcome if record(session, runtime, request, step, outcome) else None


def _work(
    runtime: Runtime, session: Session, request: Request, step: RequestStep, heartbeat: Heartbeat
) -> Outcome:
    phase = Phase(step.phase)
    if phase is Phase.FIND:
        return _find(runtime, session, request, step, heartbeat)
    if phase in (Phase.ERASE, Phase.RECTIFY, Phase.RESTRICT):
        return changing.run(runtime, session, request, step, heartbeat)
    if phase is Phase.PERSON:
        return person_steps.run(runtime, session, request, step)
    if phase is Phase.NOTIFY:
        return notices.run_notice(runtime, session, request, step)
    if phase is Phase.TRANSMIT:
        return transmission.run(runtime, session, request, step)
    return closing_step.run(runtime, session, request, step, heartbeat)


def _find(
    runtime: Runtime, session: Session, request: Request, step: RequestStep, heartbeat: Heartbeat
) -> Outcome:
    plan, systems = plan_for(runtime, session, request)
    system = next(s for s in systems if s.key == step.system)
    upstream: dict[str, Sequence[Any]] = {}
    shared = chain.cache(session)
    handed = shared.setdefault("outputs", {}) if shared is not None else {}
    unknown = [seq for seq in step.depends_on if seq not in handed]
    if unknown:
        for seq, outputs in session.execute(
            select(RequestStep.seq, RequestStep.outputs).where(
                RequestStep.request_id == request.id, RequestStep.seq.in_(unknown)
            )
        ):
            handed[seq] = outputs or {}
    for seq in step.depends_on:
        upstream.update(handed.get(seq, {}))
    sink = RowSink(
        session_factory=runtime.session_factory,
        step_id=step.id,
        attempt=step.attempts,
        on_spill=heartbeat,
    )
    identities = identity_values(
        [(i.kind, i.value) for i in request.identities if i.verified_at is not None]
    )
    found = find_dataset(
        connector=runtime.pool.get(system),
        traversal=plan.traversal,
        dataset=str(step.dataset),
        identities=identities,
        upstream=upstream,
        sink=sink,
        heartbeat=heartbeat,
    )
    total = sum(found.counts.values())
    listing = ", ".join(f"{k.split('.', 1)[1]} {n}" for k, n in found.counts.items())
    return Outcome(
        status=StepStatus.DONE,
        summary={"attempt": step.attempts, "rows": found.counts},
        message=f"found {total} row{'s' if total != 1 else ''} in {system.name} ({listing})",
        outputs=json_ready(found.outputs),
        rows=sink.pending(),
    )


def record(
    session: Session, runtime: Runtime, request: Request, step: RequestStep, outcome: Outcome
) -> bool:
    """Write the outcome if the step is still ours; False (nothing written) otherwise."""
    now = dt.datetime.now(dt.UTC)
    done = outcome.status in (StepStatus.DONE, StepStatus.SKIPPED, StepStatus.FAILED)
    values: dict[str, Any] = {
        "status": outcome.status.value,
        "summary": outcome.summary,
        "lease_owner": None,
        "lease_expires_at": None,
        # A step that ends failed keeps its reason where staff look for it.
        "error": (
            str(outcome.summary.get("error") or outcome.message)[:1000]
            if outcome.status is StepStatus.FAILED
            else None
        ),
    }
    if done:
        values["finished_at"] = now
    if outcome.outputs is not None:
        values["outputs"] = outcome.outputs  # the column's type encrypts it, as in the ORM
    # The step's own ORM changes go first: the timeline keeps the order things happened in.
    session.flush()
    # Core statements: the ORM's bulk update and its flush of new objects cost more than the
    # database's answer. The step object is brought up to date by hand below.
    steps = STEPS_TABLE
    result = session.execute(
        update(steps)
        .where(
            steps.c.id == step.id,
            steps.c.lease_owner == runtime.owner,
            steps.c.status == StepStatus.RUNNING.value,
        )
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        set_committed_value(step, name, value)
    if outcome.outputs is not None:
        shared = chain.cache(session)
        if shared is not None:  # for the chain's later steps, without reading them back
            shared.setdefault("outputs", {})[step.seq] = outcome.outputs
    if step.attempts > 1:  # rows an earlier, unfinished attempt left behind
        discard_other_attempts(session=session, step_id=step.id, attempt=step.attempts)
    write_batches(session, outcome.rows)
    write_event(
        session=session,
        request_id=request.id,
        actor=ENGINE,
        kind=f"step_{outcome.status.value}",
        message=f"{step_title(step)}: {outcome.message}",
        data={"step": step.seq, "phase": step.phase, "attempt": step.attempts},
        public=outcome.public,
        now=now,
    )
    return True
