"""Running a request to the end in this process, without a queue: `opendpo requests run` and
`submit --wait`. Each step is still claimed like any worker's, so workers running at the same
time take their share and nothing runs twice."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from sqlalchemy import select

from opendpo.execution.engine import OnStep, run_step
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import StepStatus, ready_steps
from opendpo.security.audit import as_utc


def drive(
    runtime: Runtime,
    request_id: str,
    *,
    on_step: OnStep | None = None,
    poll: Callable[[float], None] | None = None,
) -> list[RequestStep]:
    """Run the request's ready steps in this process until none is left; its steps at the end.

    Used by `opendpo requests run` and `submit --wait`; steps waiting for backoff are waited
    for here (through `poll`, a sleep), steps waiting on a person are not. `on_step` is told
    of each step as it starts and as it ends (see `engine.run_step`).
    """
    sleep = poll or time.sleep
    while True:
        with runtime.session_factory() as session:
            steps = list(
                session.scalars(
                    select(RequestStep)
                    .where(RequestStep.request_id == request_id)
                    .order_by(RequestStep.seq)
                )
            )
        ready = ready_steps(steps)
        now = dt.datetime.now(dt.UTC)
        due = [s.id for s in ready if s.next_attempt_at is None or as_utc(s.next_attempt_at) <= now]
        if due:
            # The first runs on into what it makes ready (execution.chain), which may be the
            # others: they are read again afterwards rather than claimed in vain now. Steps
            # the chain left are run straight on, without reading the plan between them.
            del due[1:]
            while due:
                made_ready = run_step(runtime, due.pop(0), on_step=on_step)
                due.extend(i for i in made_ready if i not in due)
            continue
        later = [as_utc(s.next_attempt_at) for s in ready if s.next_attempt_at is not None]
        running = [s for s in steps if s.status == StepStatus.RUNNING]
        if later:
            sleep(max(0.0, min(min(later) - now, dt.timedelta(seconds=5)).total_seconds()))
            continue
        if running:
            # Held by another worker (or a dead one whose lease will run out): wait for it.
            sleep(0.2)
            expired = [
                s for s in running if s.lease_expires_at and as_utc(s.lease_expires_at) < now
            ]
            for step in expired:
                run_step(runtime, step.id)
            continue
        return steps
