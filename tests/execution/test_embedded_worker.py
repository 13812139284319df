"""The embedded mode: a SQLite-file queue worked by threads in this process, as `opendpo
serve` runs it. A step whose queue message was lost is found by the sweep and still runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from five_systems import ALICE, seed_shop, write_policy
from running import apply, plan_verified
from sqlalchemy import create_engine, text

from opendpo.execution import engine
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.rights.records import Request
from opendpo.tasks.queue import StepQueue, make_huey
from opendpo.tasks.worker import Worker


@pytest.fixture
def shop(runtime: Runtime, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    seed_shop(url)
    apply(runtime, write_policy(tmp_path, only=("shop",)), {"shop": {"type": "sql", "url": url}})
    return url


@pytest.fixture
def queue(runtime: Runtime, tmp_path: Path) -> Iterator[StepQueue]:
    settings = runtime.settings.model_copy(update={"task_queue_path": tmp_path / "tasks.db"})
    made = StepQueue(make_huey(settings), lambda: runtime)
    yield made


def plan_erasure(runtime: Runtime) -> tuple[str, list[int]]:
    return plan_verified(runtime, "erasure", [("email", ALICE)])


def wait_until_completed(runtime: Runtime, request_id: str, seconds: float = 30) -> Request:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with runtime.session_factory() as session:
            request = session.get_one(Request, request_id)
            if request.status == "completed":
                return request
        time.sleep(0.05)
    pytest.fail(f"request {request_id} did not complete within {seconds} s")


def customers(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(r) for r in connection.execute(text("SELECT id, name FROM customers"))]
    engine.dispose()
    return rows


def test_the_embedded_worker_runs_a_request_to_the_end(
    runtime: Runtime, shop: str, queue: StepQueue
) -> None:
    worker = Worker(queue, threads=2, sweep_interval=0.2, hosted=True)
    worker.start()
    try:
        request_id, ready = plan_erasure(runtime)
        queue.hand_out(request_id, ready)
        wait_until_completed(runtime, request_id)
    finally:
        worker.stop()
    assert customers(shop) == [(1, None), (2, "Bob Baker")]


def test_a_step_whose_message_was_lost_is_found_by_the_sweep(
    runtime: Runtime, shop: str, queue: StepQueue
) -> None:
    request_id, _ = plan_erasure(runtime)  # planned, but never handed to the queue
    worker = Worker(queue, threads=1, sweep_interval=0.2, hosted=True)
    worker.start()
    try:
        wait_until_completed(runtime, request_id)
    finally:
        worker.stop()
    assert customers(shop) == [(1, None), (2, "Bob Baker")]


def test_a_message_meant_for_another_installation_is_not_run_and_is_reported(
    runtime: Runtime, shop: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Two installations working one queue by mistake: the other's step 1 is not ours.
    request_id, ready = plan_erasure(runtime)
    with caplog.at_level(logging.WARNING, logger="opendpo.execution"):
        assert engine.run_step(runtime, ready[0], request_id="another-installation") == []
    with runtime.session_factory() as session:
        step = session.get_one(RequestStep, ready[0])
        assert (step.status, step.attempts) == ("pending", 0)
    assert "another installation is working the same task queue" in caplog.text
    # Its own message runs it, and says nothing of the sort.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="opendpo.execution"):
        engine.run_step(runtime, ready[0], request_id=request_id)
    assert "another installation" not in caplog.text
    assert customers(shop) == [(1, None), (2, "Bob Baker")]
