"""The lease keeper: a step run past its lease keeps it, a step taken over learns so at its
next heartbeat, a step no longer run is no longer renewed, and one thread serves them all."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from package_requests import make_request
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from opendpo.execution.lease import LeaseKeeper
from opendpo.execution.outcome import LeaseLost
from opendpo.execution.records import RequestStep
from opendpo.execution.steps import StepStatus, claim
from opendpo.security.audit import as_utc
from opendpo.store.engine import make_session_factory

LEASE = dt.timedelta(seconds=1.2)  # renewed every 0.4 s


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def keeper(factory: sessionmaker[Session]) -> Iterator[LeaseKeeper]:
    made = LeaseKeeper(factory, LEASE)
    yield made
    made.close()


@pytest.fixture
def claimed(engine: Engine, factory: sessionmaker[Session]) -> Callable[[str], int]:
    """A new pending step, claimed by `owner` now; its id."""
    request_id, _ = make_request(engine, kind="erasure")
    made = iter(range(1, 100))

    def take(owner: str) -> int:
        with factory() as session, session.begin():
            step = RequestStep(
                request_id=request_id, seq=next(made), phase="find", status="pending",
                depends_on=[], attempts=0, summary={},
            )  # fmt: skip
            session.add(step)
        with factory() as session:
            now = dt.datetime.now(dt.UTC)
            assert claim(session=session, step_id=step.id, owner=owner, lease=LEASE, now=now)
        return step.id

    return take


def expires(factory: sessionmaker[Session], step_id: int) -> dt.datetime:
    with factory() as session:
        at = session.get_one(RequestStep, step_id).lease_expires_at
        assert at is not None
        return as_utc(at)


def test_a_step_run_past_its_lease_keeps_it(
    keeper: LeaseKeeper, factory: sessionmaker[Session], claimed: Callable[[str], int]
) -> None:
    step_id = claimed("a")
    with keeper.keep(step_id, "a") as held:
        time.sleep(LEASE.total_seconds() * 2.5)
        held.check()  # not lost
        now = dt.datetime.now(dt.UTC)
        # Renewed a third of a lease ago at most: nobody else could claim it now.
        assert expires(factory, step_id) > now + LEASE / 3
        with factory() as session:
            later = now + LEASE / 3
            assert (
                claim(session=session, step_id=step_id, owner="b", lease=LEASE, now=later) is None
            )


def test_a_step_taken_over_is_told_at_its_next_heartbeat(
    keeper: LeaseKeeper, factory: sessionmaker[Session], claimed: Callable[[str], int]
) -> None:
    step_id = claimed("a")
    with keeper.keep(step_id, "a") as held:
        held.check()
        with factory() as session, session.begin():  # another worker took it over
            session.execute(
                update(RequestStep).where(RequestStep.id == step_id).values(lease_owner="b")
            )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                held.check()
            except LeaseLost:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the step's heartbeat never learnt that its lease was lost")
    with factory() as session:  # and the keeper did not take it back
        step = session.get_one(RequestStep, step_id)
        assert (step.lease_owner, step.status) == ("b", StepStatus.RUNNING.value)


def test_a_step_no_longer_run_is_no_longer_renewed(
    keeper: LeaseKeeper, factory: sessionmaker[Session], claimed: Callable[[str], int]
) -> None:
    step_id = claimed("a")
    with keeper.keep(step_id, "a"):
        time.sleep(LEASE.total_seconds() / 2)
    time.sleep(0.1)  # a renewal under way as the block ended lands
    last = expires(factory, step_id)
    time.sleep(LEASE.total_seconds())
    assert expires(factory, step_id) == last


def test_one_thread_keeps_every_running_step(
    keeper: LeaseKeeper, factory: sessionmaker[Session], claimed: Callable[[str], int]
) -> None:
    steps = [claimed(owner) for owner in ("a", "b", "c")]
    before = {t.name for t in threading.enumerate()}
    with keeper.keep(steps[0], "a"), keeper.keep(steps[1], "b"), keeper.keep(steps[2], "c"):
        started = [t for t in threading.enumerate() if t.name not in before]
        assert [t.name for t in started] == ["opendpo-leases"]
        first = {s: expires(factory, s) for s in steps}
        time.sleep(LEASE.total_seconds())
        assert all(expires(factory, s) > first[s] for s in steps)
    keeper.close()
    assert not started[0].is_alive()
