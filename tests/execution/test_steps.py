"""Claiming steps on SQLite and PostgreSQL: one claimant wins, leases run out and are taken
over, the sweep never hands out a step before its dependencies finish, and backoff grows."""

from __future__ import annotations

import datetime as dt

import pytest
from package_requests import make_request
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from opendpo.execution import chain
from opendpo.execution.planning import Phase, PlannedStep
from opendpo.execution.records import RequestStep
from opendpo.execution.steps import (
    PLAN_ROWS,
    StepStatus,
    add_steps,
    backoff,
    claim,
    claimable_ids,
    dependencies_finished,
    mark_handed_out,
    release,
    renew,
)
from opendpo.rights.records import Request
from opendpo.store.engine import make_session_factory

LEASE = dt.timedelta(seconds=30)
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def plan(engine: Engine, factory: sessionmaker[Session]) -> dict[int, int]:
    """A request's steps: find (1), erase (2, after 1), finish (3, after 1 and 2); seq → id."""
    request_id, _ = make_request(engine, kind="erasure")
    with factory() as session, session.begin():
        steps = [
            RequestStep(
                request_id=request_id,
                seq=seq,
                phase=phase,
                status="pending",
                depends_on=needs,
                attempts=0,
                summary={},
            )
            for seq, phase, needs in ((1, "find", []), (2, "erase", [1]), (3, "finish", [1, 2]))
        ]
        session.add_all(steps)
    return {s.seq: s.id for s in steps}


def ids(session: Session, now: dt.datetime) -> list[int]:
    """The steps the sweep would hand out, each checked to be handed out with its request."""
    found = claimable_ids(session=session, now=now)
    for request_id, step_id in found:
        assert session.get_one(RequestStep, step_id).request_id == request_id
    return [step_id for _, step_id in found]


def status(factory: sessionmaker[Session], step_id: int) -> tuple[str, str | None, int]:
    with factory() as session:
        step = session.get_one(RequestStep, step_id)
        return step.status, step.lease_owner, step.attempts


def finish(factory: sessionmaker[Session], step_id: int) -> None:
    with factory() as session, session.begin():
        session.get_one(RequestStep, step_id).status = StepStatus.DONE.value


def test_of_two_claims_only_the_first_wins(
    factory: sessionmaker[Session], plan: dict[int, int]
) -> None:
    with factory() as one, factory() as two:
        won = claim(session=one, step_id=plan[1], owner="a", lease=LEASE, now=NOW)
        lost = claim(session=two, step_id=plan[1], owner="b", lease=LEASE, now=NOW)
    assert won is not None and lost is None
    assert status(factory, plan[1]) == ("running", "a", 1)


def test_a_step_is_claimed_only_for_its_own_request(
    factory: sessionmaker[Session], plan: dict[int, int]
) -> None:
    with factory() as session:
        step = session.get_one(RequestStep, plan[1])
        mine, other = step.request_id, "a request of another installation"
        args = {"session": session, "step_id": plan[1], "lease": LEASE, "now": NOW}
        assert claim(owner="a", request_id=other, **args) is None
        assert status(factory, plan[1]) == ("pending", None, 0)
        assert claim(owner="b", request_id=mine, **args) is not None
    assert status(factory, plan[1]) == ("running", "b", 1)


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_renew(
    factory: sessionmaker[Session], plan: dict[int, int]
) -> None:
    with factory() as session:
        assert claim(session=session, step_id=plan[1], owner="a", lease=LEASE, now=NOW)
        # Still within the lease: nobody else may take it.
        early = NOW + LEASE - dt.timedelta(seconds=1)
        assert claim(session=session, step_id=plan[1], owner="b", lease=LEASE, now=early) is None
        late = NOW + LEASE + dt.timedelta(seconds=1)
        assert claim(session=session, step_id=plan[1], owner="b", lease=LEASE, now=late)
        assert renew(session=session, step_id=plan[1], owner="a", lease=LEASE) is False
        assert renew(session=session, step_id=plan[1], owner="b", lease=LEASE) is True
    assert status(factory, plan[1]) == ("running", "b", 2)


def test_the_sweep_hands_out_only_steps_whose_dependencies_finished(
    factory: sessionmaker[Session], plan: dict[int, int]
) -> None:
    with factory() as session:
        assert ids(session, NOW) == [plan[1]]
    finish(factory, plan[1])
    with factory() as session:
        assert ids(session, NOW) == [plan[2]]
        # Handed out: not again until that lease runs out.
        mark_handed_out(session=session, step_ids=[plan[2]], until=NOW + LEASE)
        session.commit()
        assert ids(session, NOW) == []
        assert ids(session, NOW + 2 * LEASE) == [plan[2]]
    finish(factory, plan[2])
    with factory() as session:
        assert ids(session, NOW + 2 * LEASE) == [plan[3]]


def test_a_step_claimed_before_its_dependencies_is_released_untouched(
    factory: sessionmaker[Session], plan: dict[int, int]
) -> None:
    with factory() as session:
        step = claim(session=session, step_id=plan[3], owner="a", lease=LEASE, now=NOW)
        assert step is not None
        assert dependencies_finished(session=session, step=step) is False
        release(session=session, step=step, owner="a")
    assert status(factory, plan[3]) == ("pending", None, 0)
    finish(factory, plan[1])
    finish(factory, plan[2])
    with factory() as session:
        step = session.scalars(select(RequestStep).where(RequestStep.id == plan[3])).one()
        assert dependencies_finished(session=session, step=step) is True


def test_backoff_doubles_from_five_seconds_up_to_half_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30).total_seconds() == 1800


def _request_of(factory: sessionmaker[Session], step_id: int, status: str) -> None:
    with factory() as session, session.begin():
        step = session.get_one(RequestStep, step_id)
        session.get_one(Request, step.request_id).status = status


@pytest.mark.parametrize(
    ("request_status", "taken"),
    [("in_progress", True), ("awaiting_action", True), ("cancelled", False), ("completed", False)],
)
def test_a_chain_takes_the_next_step_only_while_its_request_runs(
    factory: sessionmaker[Session], plan: dict[int, int], request_status: str, taken: bool
) -> None:
    _request_of(factory, plan[1], request_status)
    with factory() as session:
        step = chain.claim_next(session, step_id=plan[1], owner="a", lease=LEASE, now=NOW)
        session.commit()
    assert (step is not None) is taken
    if taken:
        assert step is not None and (step.status, step.lease_owner, step.attempts) == (
            "running",
            "a",
            1,
        )
        assert status(factory, plan[1]) == ("running", "a", 1)
    else:  # left for the normal hand-out, which cancels it
        assert status(factory, plan[1]) == ("pending", None, 0)


def test_a_chain_does_not_take_a_step_held_or_not_yet_due(
    factory: sessionmaker[Session], plan: dict[int, int]
) -> None:
    _request_of(factory, plan[1], "in_progress")
    with factory() as session:
        assert claim(session=session, step_id=plan[1], owner="b", lease=LEASE, now=NOW)
    with factory() as session:
        held = chain.claim_next(session, step_id=plan[1], owner="a", lease=LEASE, now=NOW)
        session.commit()
    assert held is None and status(factory, plan[1]) == ("running", "b", 1)
    with factory() as session, session.begin():
        later = session.get_one(RequestStep, plan[2])
        later.next_attempt_at = NOW + dt.timedelta(seconds=5)
    with factory() as session:
        early = chain.claim_next(session, step_id=plan[2], owner="a", lease=LEASE, now=NOW)
        session.commit()
    assert early is None and status(factory, plan[2]) == ("pending", None, 0)


def test_a_long_plan_is_written_whole_with_each_step_given_its_own_id(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    request_id, _ = make_request(engine, kind="erasure")
    planned = [
        PlannedStep(seq, Phase.FIND, system=f"s{seq}", dataset=f"d{seq}",
                    depends_on=[seq - 1] if seq > 1 else [], inputs={"n": seq})
        for seq in range(1, 2 * PLAN_ROWS + 8)
    ]  # fmt: skip
    with factory() as session, session.begin():
        written = add_steps(session=session, request_id=request_id, planned=planned)
    assert [s.seq for s in written] == [p.seq for p in planned]
    assert all(s.status == "pending" for s in written)
    with factory() as session:
        stored = {
            step.id: step
            for step in session.scalars(
                select(RequestStep).where(RequestStep.request_id == request_id)
            )
        }
    assert len(stored) == len(planned)
    for state in written:
        step = stored[state.id]
        assert (step.seq, step.dataset, step.depends_on, step.inputs) == (
            state.seq, state.dataset, state.depends_on, {"n": state.seq},
        )  # fmt: skip
