"""A system that answers 429 with Retry-After is not asked again before it said: the step
waits at least that long (and never less than the backoff), then completes."""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from five_systems import ALICE, connections, write_policy
from http_crm_server import CrmServer
from running import apply, plan_verified
from sqlalchemy import select

from opendpo.execution import driving
from opendpo.execution import engine as execution
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import FIRST_BACKOFF_SECONDS, StepStatus
from opendpo.rights.records import Request, RequestEvent
from opendpo.security.audit import as_utc


@pytest.fixture
def crm(runtime: Runtime, tmp_path: Path) -> Iterator[CrmServer]:
    with CrmServer().running() as server:
        every = connections(shop="", support="", newsletter="", redis_url="", prefix="", crm=server)
        apply(runtime, write_policy(tmp_path, only=("crm",)), {"crm": every["crm"]})
        yield server


def started(runtime: Runtime) -> tuple[str, int]:
    """A verified access request for Alice, planned; (request id, its first step's id)."""
    request_id, ready = plan_verified(runtime, "access", [("email", ALICE)])
    return request_id, ready[0]


def step_of(runtime: Runtime, step_id: int) -> RequestStep:
    with runtime.session_factory() as session:
        return session.get_one(RequestStep, step_id)


def test_a_429_with_retry_after_puts_the_next_attempt_no_sooner(
    runtime: Runtime, crm: CrmServer
) -> None:
    request_id, step_id = started(runtime)
    crm.state.busy_retry_after = "120"
    before = dt.datetime.now(dt.UTC)
    assert execution.run_step(runtime, step_id) == []
    after = dt.datetime.now(dt.UTC)

    step = step_of(runtime, step_id)
    assert (step.status, step.attempts) == (StepStatus.PENDING, 1)
    assert step.next_attempt_at is not None
    due = as_utc(step.next_attempt_at)
    # The backoff alone would say 5 s: the API's 120 s win.
    assert before + dt.timedelta(seconds=120) <= due <= after + dt.timedelta(seconds=120)
    assert "429" in (step.error or "")
    with runtime.session_factory() as session:
        retry = session.scalars(
            select(RequestEvent).where(
                RequestEvent.request_id == request_id, RequestEvent.kind == "step_retry"
            )
        ).one()
        assert f"trying again at {due:%H:%M:%S} UTC" in retry.message
    # Not claimable before it is due: a second run does nothing.
    assert execution.run_step(runtime, step_id) == []
    assert step_of(runtime, step_id).attempts == 1

    # Once the API is back and the time has come, the request runs to the end.
    crm.state.busy_retry_after = None
    with runtime.session_factory() as session:
        session.get_one(RequestStep, step_id).next_attempt_at = dt.datetime.now(dt.UTC)
        session.commit()
    steps = driving.drive(runtime, request_id)
    assert [s.status for s in steps] == [StepStatus.DONE, StepStatus.DONE]
    assert steps[0].summary["rows"]["crm_api.contacts"] == 3
    with runtime.session_factory() as session:
        assert session.get_one(Request, request_id).status == "completed"


def test_a_retry_after_as_an_http_date_is_honoured(runtime: Runtime, crm: CrmServer) -> None:
    _, step_id = started(runtime)
    crm.state.busy_retry_after = email.utils.formatdate(time.time() + 600, usegmt=True)
    before = dt.datetime.now(dt.UTC)
    execution.run_step(runtime, step_id)
    due = as_utc(step_of(runtime, step_id).next_attempt_at or before)
    # The date has whole seconds: up to one earlier than now + 600.
    assert before + dt.timedelta(seconds=598) <= due <= before + dt.timedelta(seconds=602)


def test_a_shorter_retry_after_than_the_backoff_waits_for_the_backoff(
    runtime: Runtime, crm: CrmServer
) -> None:
    _, step_id = started(runtime)
    crm.state.busy_retry_after = "1"
    before = dt.datetime.now(dt.UTC)
    execution.run_step(runtime, step_id)
    after = dt.datetime.now(dt.UTC)
    due = as_utc(step_of(runtime, step_id).next_attempt_at or before)
    floor = dt.timedelta(seconds=FIRST_BACKOFF_SECONDS)
    assert before + floor <= due <= after + floor
