"""Handing request steps to workers, on Huey: a SQLite file by default, Redis to scale out.

The queue only says "run step 42"; what a step is, whether it already ran, and who holds it
live in the store (execution.steps). So a message lost with a killed worker costs nothing:
each worker's sweep finds steps that are due but unheld, or held past their lease, and hands
them out again, and the conditional claim makes a duplicate message harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence

from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from opendpo.execution import engine
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import claimable_ids, mark_handed_out
from opendpo.settings import Settings

logger = logging.getLogger("opendpo.tasks")
TASK_NAME = "opendpo.run_step"


def make_huey(settings: Settings) -> Huey:
    """The queue the settings name; the same on every process that shares it."""
    if settings.task_queue_url:
        # Blocking reads: a step is picked up as soon as it is queued, without polling.
        return RedisHuey(
            name=settings.task_queue_name, url=settings.task_queue_url, results=False, blocking=True
        )
    settings.task_queue_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        name=settings.task_queue_name, filename=str(settings.task_queue_path), results=False
    )


class StepQueue:
    """The steps' side of the queue: hand steps out, and run them when a message arrives."""

    def __init__(self, huey: Huey, runtime_factory: Callable[[], Runtime]) -> None:
        self.huey = huey
        self._runtime_factory = runtime_factory
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()
        self._task = huey.task(name=TASK_NAME)(self._run)

    @property
    def runtime(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = self._runtime_factory()
            return self._runtime

    def hand_out(self, request_id: str, step_ids: Sequence[int]) -> None:
        """Queue the request's steps; call after the transaction that made them ready has
        committed."""
        if not step_ids:
            return
        runtime = self.runtime
        until = dt.datetime.now(dt.UTC) + runtime.lease
        with runtime.session_factory() as session:
            mark_handed_out(session=session, step_ids=step_ids, until=until)
            session.commit()
        for step_id in step_ids:
            # The request's id lets a worker tell a message meant for another installation
            # (one sharing the queue by mistake) from a step of its own.
            self._task(step_id, request_id)

    def _run(self, step_id: int, request_id: str | None = None) -> None:
        # The step runs on into what it made ready (execution.chain), with no round trip
        # through the queue; the rest is handed out at once, for other workers in parallel.
        # (Messages queued before they carried a request id still run.)
        engine.run_step(self.runtime, step_id, hand_out=self.hand_out, request_id=request_id)

    def sweep(self) -> int:
        """Hand out every step that is due but unheld, or held past its lease."""
        runtime = self.runtime
        with runtime.session_factory() as session:
            found = claimable_ids(session=session, now=dt.datetime.now(dt.UTC))
        by_request: dict[str, list[int]] = {}
        for request_id, step_id in found:
            by_request.setdefault(request_id, []).append(step_id)
        for request_id, step_ids in by_request.items():
            self.hand_out(request_id, step_ids)
        return len(found)

    def close(self) -> None:
        with self._lock:
            if self._runtime is not None:
                self._runtime.close()
                self._runtime = None


class Sweeper:
    """A thread that sweeps every `interval` seconds until stopped."""

    def __init__(self, queue: StepQueue, interval: float) -> None:
        self._queue = queue
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="opendpo-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                handed = self._queue.sweep()
                if handed:
                    logger.info("handed out %d step(s) that were due or abandoned", handed)
            except Exception:  # the store may be restarting: try again next round
                logger.exception("sweeping for steps failed")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
