"""Keeping the leases of the steps a process is running.

One thread per process renews, every third of a lease's length, the lease of each step the
process's threads are running, so a worker that is alive but waiting (on a row lock, a slow
API) keeps its steps, and a worker that was killed stops renewing: once its lease runs out,
the sweep hands the step to another worker. A step's own code only asks, now and then,
whether its lease was lost. One thread for all steps: a thread started and joined per step
cost more than a small step's own bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from opendpo.execution.outcome import LeaseLost
from opendpo.execution.steps import renew

logger = logging.getLogger("opendpo.execution")


@dataclass
class Held:
    """A step being run under our lease; `check` is the step's heartbeat."""

    step_id: int
    owner: str
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise LeaseLost if another worker has taken the step over."""
        if self.lost.is_set():
            raise LeaseLost()


class LeaseKeeper:
    def __init__(self, session_factory: sessionmaker[Session], lease: dt.timedelta) -> None:
        self._factory = session_factory
        self._lease = lease
        self._interval = max(lease.total_seconds() / 3, 0.05)
        self._held: dict[int, Held] = {}
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @contextmanager
    def keep(self, step_id: int, owner: str) -> Iterator[Held]:
        """Renew the step's lease (claimed by `owner`) until the block ends."""
        held = Held(step_id, owner)
        number = next(self._numbers)
        with self._lock:
            self._held[number] = held
            self._start()
        try:
            yield held
        finally:
            with self._lock:
                del self._held[number]

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join()

    def _start(self) -> None:
        # A forked worker process inherits the object but not the thread: start its own.
        alive = self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()
        if alive or self._stop.is_set():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="opendpo-leases", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                running = list(self._held.values())
            for held in running:
                self._renew(held)

    def _renew(self, held: Held) -> None:
        if held.lost.is_set():
            return
        try:
            with self._factory() as session:
                kept = renew(
                    session=session, step_id=held.step_id, owner=held.owner, lease=self._lease
                )
        except Exception:  # the store may be restarting: the next round tries again
            logger.warning("renewing the lease on step %s failed", held.step_id, exc_info=True)
            return
        if not kept:
            held.lost.set()
