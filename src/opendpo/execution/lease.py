"""Keeping a step's lease while it runs.

A thread renews the lease every third of its length for as long as the step runs, so a
worker that is alive but waiting (on a row lock, a slow API) keeps its step, and a worker
that was killed stops renewing: once its lease runs out, the sweep hands the step to
another worker. The step's own code only asks, now and then, whether the lease was lost.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from opendpo.execution.outcome import LeaseLost
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import renew

logger = logging.getLogger("opendpo.execution")


class LeaseKeeper:
    def __init__(self, runtime: Runtime, step_id: int, owner: str) -> None:
        self._runtime = runtime
        self._step_id = step_id
        # The owner names the step's own thread (runtime.owner differs in this one).
        self._owner = owner
        self._interval = max(runtime.lease.total_seconds() / 3, 0.05)
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"opendpo-lease-{step_id}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        """Raise LeaseLost if another worker has taken the step over."""
        if self._lost.is_set():
            raise LeaseLost()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._runtime.session_factory() as session:
                    kept = renew(
                        session=session,
                        step_id=self._step_id,
                        owner=self._owner,
                        lease=self._runtime.lease,
                    )
            except Exception:  # the store may be restarting: the next round tries again
                logger.warning("renewing the lease on step %s failed", self._step_id, exc_info=True)
                continue
            if not kept:
                self._lost.set()
                return
