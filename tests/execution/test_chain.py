"""A request's steps as a chain: the step a step made ready runs straight after it in the same
worker, each still claimed, recorded and put on the timeline on its own, and the policy and
systems are read once for the chain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from five_systems import ALICE, seed_newsletter, seed_shop, write_policy
from running import apply, data_json, plan_verified, rows_of
from sqlalchemy import event, select

from opendpo.execution import engine as execution
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.rights.records import Request, RequestEvent


@pytest.fixture
def newsletter(runtime: Runtime, tmp_path: Path) -> None:
    url = seed_newsletter(tmp_path / "newsletter.db")
    apply(
        runtime,
        write_policy(tmp_path, only=("newsletter",)),
        {"newsletter": {"type": "sql", "url": url}},
    )


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL sent to the store inside the block."""
    seen: list[str] = []

    def count(_c: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


@pytest.mark.usefixtures("newsletter")
@pytest.mark.parametrize("kind", ["access", "erasure"])
def test_one_hand_out_runs_the_request_to_its_end(runtime: Runtime, kind: str) -> None:
    request_id, ready = plan_verified(runtime, kind, [("email", ALICE)])
    assert len(ready) == 1  # find, then the package or the finish: one after the other
    with statements(runtime) as seen:
        left = execution.run_step(runtime, ready[0])
    assert left == []
    with runtime.session_factory() as session:
        request = session.get_one(Request, request_id)
        steps = list(
            session.scalars(
                select(RequestStep)
                .where(RequestStep.request_id == request_id)
                .order_by(RequestStep.seq)
            )
        )
        done = session.scalars(
            select(RequestEvent.data).where(
                RequestEvent.request_id == request_id, RequestEvent.kind == "step_done"
            )
        ).all()
    assert request.status == "completed"
    # Telling the recipients of erased data (Art 19) waits for staff, outside the chain.
    told = [s for s in steps if s.phase == "notify"]
    assert all(s.status == "waiting" for s in told) and bool(told) == (kind == "erasure")
    ran = [s for s in steps if s not in told]
    assert len(ran) >= 2
    assert [(s.status, s.attempts, s.lease_owner) for s in ran] == [("done", 1, None)] * len(ran)
    # Each step has its own line on the timeline, as when run one by one.
    assert sorted(d["step"] for d in done) == [s.seq for s in ran]
    # What the steps share is read once for the chain, not once a step.
    assert sum("FROM policy_versions" in sql for sql in seen) == 1
    assert sum("FROM connected_systems" in sql for sql in seen) == 1
    if kind == "access":
        assert [r["email"] for r in rows_of(data_json(runtime, request_id), "newsletter",
                                           "subscribers")] == [ALICE]  # fmt: skip


@pytest.mark.postgres
def test_steps_that_can_run_side_by_side_are_handed_out_at_once(
    runtime: Runtime, tmp_path: Path, estate_postgres_url: str
) -> None:
    seed_shop(estate_postgres_url)
    apply(
        runtime,
        write_policy(tmp_path, only=("shop", "newsletter")),
        {
            "shop": {"type": "sql", "url": estate_postgres_url},
            "newsletter": {"type": "sql", "url": seed_newsletter(tmp_path / "newsletter.db")},
        },
    )
    request_id, ready = plan_verified(runtime, "erasure", [("email", ALICE)])
    handed: list[tuple[list[int], str]] = []

    def hand_out(of_request: str, step_ids: list[int]) -> None:
        assert of_request == request_id
        with runtime.session_factory() as session:
            status = session.get_one(Request, request_id).status
            seqs = [session.get_one(RequestStep, i).seq for i in step_ids]
        handed.append((seqs, status))

    # Both finds can start; the chain takes one and, once it is done, goes on with the
    # other, handing out the erasure the first find made ready: another worker may take it.
    assert execution.run_step(runtime, ready[0], hand_out=hand_out) == []
    assert handed, "nothing was handed out while the chain ran"
    assert all(status == "in_progress" for _, status in handed)
    assert len({seq for seqs, _ in handed for seq in seqs}) == sum(len(s) for s, _ in handed)
    with runtime.session_factory() as session:
        assert session.get_one(Request, request_id).status == "completed"
