"""A worker killed with SIGKILL in the middle of an erasure, in the distributed mode: two
`opendpo worker` processes on real Redis, the store and the shop on PostgreSQL.

The test holds a lock on the customer's row, so the erase step is caught mid-transaction in
whichever worker claimed it; that worker is killed, a replacement is started, and the lock
released. A trigger logs every committed change to the shop: each row must be changed
exactly once, and the request must complete with nothing lost.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from five_systems import ALICE, BOB, seed_shop, write_policy
from running import apply, plan_verified
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Connection

from opendpo.consent.suppression import Suppression
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.rights.records import Request, RequestEvent
from opendpo.settings import Settings
from opendpo.tasks.queue import StepQueue, make_huey

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
T = TypeVar("T")
LEASE_SECONDS = 3
# Every committed change to the shop, one row each: a change done twice would show twice.
LOG_CHANGES = """
CREATE TABLE changes (id serial PRIMARY KEY, tbl text, op text, row_id integer);
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO changes (tbl, op, row_id) VALUES (TG_TABLE_NAME, TG_OP, OLD.id);
  RETURN NULL;
END $$;
CREATE TRIGGER customers_changes AFTER UPDATE OR DELETE ON customers
  FOR EACH ROW EXECUTE FUNCTION log_change();
CREATE TRIGGER orders_changes AFTER UPDATE OR DELETE ON orders
  FOR EACH ROW EXECUTE FUNCTION log_change();
"""


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """The store on PostgreSQL only: worker processes share it (SQLite would serialise them)."""
    engine = create_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_database


@pytest.fixture
def queue_settings(settings: Settings, redis_prefix: tuple[str, str], tmp_path: Path) -> Settings:
    redis_url, _ = redis_prefix
    return settings.model_copy(
        update={
            "task_queue_url": redis_url,
            "task_queue_name": f"opendpo-crash-{uuid.uuid4().hex[:8]}",
            "step_lease_seconds": LEASE_SECONDS,
            "sweep_interval_seconds": 0.5,
            "outbox_path": tmp_path / "outbox",
        }
    )


class Workers:
    """`opendpo worker` processes sharing the store and the Redis queue."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.env = {
            **os.environ,
            "OPENDPO_DATABASE_URL": settings.database_url,
            "OPENDPO_SECRET_KEY": settings.secret_key.get_secret_value(),
            "OPENDPO_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),  # type: ignore[union-attr]
            "OPENDPO_MAC_KEY": settings.mac_key.get_secret_value(),  # type: ignore[union-attr]
            "OPENDPO_TASK_QUEUE_URL": str(settings.task_queue_url),
            "OPENDPO_TASK_QUEUE_NAME": settings.task_queue_name,
            "OPENDPO_STEP_LEASE_SECONDS": str(settings.step_lease_seconds),
            "OPENDPO_SWEEP_INTERVAL_SECONDS": str(settings.sweep_interval_seconds),
            "OPENDPO_WORKER_THREADS": "1",
            "OPENDPO_OUTBOX_PATH": str(settings.outbox_path),
        }
        self.env.pop("OPENDPO_DEMO", None)
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "opendpo", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))


@pytest.fixture
def workers(queue_settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    logs = tmp_path / "worker-logs"
    logs.mkdir()
    running = Workers(queue_settings, logs)
    yield running
    running.stop()


def wait_for(what: str, check: Callable[[], T | None], workers: Workers, seconds: float = 60) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; the workers said:\n{workers.output()}")


def submit_erasure(runtime: Runtime, settings: Settings) -> str:
    request_id, ready_ids = plan_verified(runtime, "erasure", [("email", ALICE)])
    queue = StepQueue(make_huey(settings), lambda: runtime)
    queue.hand_out(request_id, ready_ids)
    return request_id


def erase_step(runtime: Runtime, request_id: str) -> RequestStep | None:
    with runtime.session_factory() as session:
        return session.scalar(
            select(RequestStep).where(
                RequestStep.request_id == request_id, RequestStep.phase == "erase"
            )
        )


def blocked_on_lock(connection: Connection) -> bool:
    waiting = connection.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
    )
    return bool(waiting)


def test_a_worker_killed_mid_erasure_is_taken_over_and_the_erasure_happens_exactly_once(
    runtime: Runtime,
    queue_settings: Settings,
    workers: Workers,
    estate_postgres_url: str,
    tmp_path: Path,
) -> None:
    seed_shop(estate_postgres_url)
    estate = create_engine(estate_postgres_url)
    with estate.begin() as connection:
        connection.execute(text(LOG_CHANGES))
    apply(
        runtime,
        write_policy(tmp_path, only=("shop",)),
        {"shop": {"type": "sql", "url": estate_postgres_url}},
    )
    first, second = workers.start(), workers.start()

    # Hold Alice's customer row: the erase step blocks inside its transaction.
    holder = estate.connect()
    holder.execute(text("SELECT id FROM customers WHERE id = 1 FOR UPDATE"))
    watcher = estate.connect().execution_options(isolation_level="AUTOCOMMIT")
    request_id = submit_erasure(runtime, queue_settings)

    step = wait_for(
        "the erase step to be running and blocked",
        lambda: (
            s
            if (s := erase_step(runtime, request_id)) is not None
            and s.status == "running"
            and blocked_on_lock(watcher)
            else None
        ),
        workers,
    )
    owner_pid = int(str(step.lease_owner).split(":")[1])
    assert owner_pid in (first.pid, second.pid)
    victim = first if owner_pid == first.pid else second
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=10) == -signal.SIGKILL
    replacement = workers.start()  # the restart
    holder.rollback()  # let go of the row: the dead worker's transaction is rolled back
    holder.close()

    def completed() -> Request | None:
        with runtime.session_factory() as session:
            found = session.get(Request, request_id)
            return found if found is not None and found.status == "completed" else None

    wait_for("the request to complete", completed, workers, seconds=90)
    assert replacement.poll() is None and (first if victim is second else second).poll() is None

    # Exactly once: each row changed by one committed transaction, in the expected way.
    with estate.connect() as connection:
        log = connection.execute(text("SELECT tbl, op, row_id FROM changes ORDER BY id")).all()
        customers = connection.execute(text("SELECT id, email, name FROM customers ORDER BY id"))
        orders = connection.execute(text("SELECT id, delivery_name FROM orders ORDER BY id"))
        assert sorted(tuple(r) for r in log) == [
            ("customers", "UPDATE", 1), ("orders", "UPDATE", 10), ("orders", "UPDATE", 11),
        ]  # fmt: skip
        customer_rows = [tuple(r) for r in customers]
        assert customer_rows[1] == (2, BOB, "Bob Baker")
        assert customer_rows[0][0] == 1 and customer_rows[0][1] != ALICE
        assert customer_rows[0][2] is None
        assert [tuple(r) for r in orders] == [(10, None), (11, None), (12, "Bob Baker")]
    watcher.close()
    estate.dispose()

    with runtime.session_factory() as session:
        steps = session.scalars(
            select(RequestStep)
            .where(RequestStep.request_id == request_id)
            .order_by(RequestStep.seq)
        ).all()
        # The courier, which received names, is owed a notice (Art 19) for staff to close.
        assert [(s.phase, s.status) for s in steps] == [
            ("find", "done"), ("erase", "done"), ("finish", "done"), ("notify", "waiting"),
        ]  # fmt: skip
        erase = steps[1]
        # Claimed by the victim, then taken over once its lease ran out.
        assert erase.attempts == 2
        assert erase.summary["changed"] == {"shop.customers": 1, "shop.orders": 2}
        assert erase.lease_owner is None
        assert [s.attempts for s in (steps[0], steps[2])] == [1, 1]
        events = session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == request_id)
        ).all()
        done = [e for e in events if e.kind == "step_done" and _data(e).get("step") == 2]
        assert len(done) == 1
        assert len(session.scalars(select(Suppression)).all()) == 1
        finished_at = steps[2].finished_at
        assert finished_at is not None
        assert dt.datetime.now(dt.UTC) - _utc(finished_at) < dt.timedelta(minutes=5)


def _data(event: RequestEvent) -> dict[str, Any]:
    data: dict[str, Any] = event.data or {}
    return data


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
