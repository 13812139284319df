"""The web server's side of running requests across systems: a runtime for planning and
answering steps, the step queue they are handed to, and the embedded worker that works it.

Everything is opened with the app's lifespan and closed with it, never when the app is built:
an app that is never served starts no thread and opens no queue file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine

from opendpo.execution.runtime import Runtime, make_runtime
from opendpo.security.keyring import Keyring
from opendpo.settings import Settings
from opendpo.tasks.queue import StepQueue, make_huey
from opendpo.tasks.worker import Worker

logger = logging.getLogger("opendpo.web.runner")


class RequestRunner:
    def __init__(self, *, settings: Settings, engine: Engine, keyring: Keyring) -> None:
        self._settings = settings
        self._engine = engine
        self._keyring = keyring
        self._runtime: Runtime | None = None
        self._queue: StepQueue | None = None
        self._worker: Worker | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the request runner is opened by the app's lifespan")
        return self._runtime

    @property
    def embedded(self) -> bool:
        """Whether this process works the queue itself."""
        return self._worker is not None

    def open(self) -> None:
        settings = self._settings
        runtime = make_runtime(settings=settings, engine=self._engine, keyring=self._keyring)
        queue = StepQueue(make_huey(settings), lambda: runtime)
        self._runtime, self._queue = runtime, queue
        if settings.embedded_worker:
            worker = Worker(
                queue,
                threads=settings.worker_threads,
                sweep_interval=settings.sweep_interval_seconds,
                hosted=True,
            )
            worker.start()
            self._worker = worker

    def close(self) -> None:
        """Stop the worker (letting running steps finish) and close the queue; blocks."""
        worker, queue = self._worker, self._queue
        self._worker = self._queue = self._runtime = None
        if worker is not None:
            worker.stop()
        if queue is not None:
            queue.close()
            queue.huey.storage.close()

    def hand_out(self, request_id: str, step_ids: Sequence[int]) -> None:
        """Queue the request's steps made ready by a committed change.

        A queue that cannot be reached loses nothing: the steps are in the store, and every
        worker's sweep hands out due steps that nobody holds. So the change a person made
        stands, and is not reported to them as a failure.
        """
        if not step_ids or self._queue is None:
            return
        try:
            self._queue.hand_out(request_id, step_ids)
        except Exception:
            logger.exception("could not queue steps %s; the workers' sweep will", list(step_ids))
