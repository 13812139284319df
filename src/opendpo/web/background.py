"""Periodic work the server does on its own: OpenDSR callbacks and staff reminders.

Every server process runs the jobs; each job is safe to run in several processes at once
(callbacks are claimed row by row, reminders are unique per request, kind and due date).
A job runs in a thread, so the store work never blocks the event loop, and a failing run is
logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from starlette.concurrency import run_in_threadpool

from opendpo.rights.callbacks import Outcome, deliver_due
from opendpo.rights.signing import signer_for
from opendpo.web.state import WebState

logger = logging.getLogger("opendpo.web.background")

REMINDER_INTERVAL = 15 * 60.0
REMINDERS_MODULE = "opendpo.rights.reminders"


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], object]


class Runner:
    """Runs each job every `every_seconds`, the first time one interval after start."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=job.name) for job in self.jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _loop(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.every_seconds)
            try:
                await run_in_threadpool(job.run)
            except Exception:
                logger.exception("background job %s failed", job.name, extra={"job": job.name})


def deliver_callbacks(state: WebState, *, request_id: str | None = None) -> Outcome:
    """One round of OpenDSR callback delivery (or only `request_id`'s callbacks)."""
    settings = state.settings
    with httpx.Client(timeout=settings.callback_timeout_seconds, follow_redirects=False) as http:
        return deliver_due(
            session_factory=state.session_factory,
            http=http,
            signer=signer_for(state.keyring, settings.base_url),
            request_id=request_id,
        )


def callback_job(state: WebState) -> Job:
    return Job(
        "opendsr-callbacks",
        state.settings.callback_interval_seconds,
        lambda: deliver_callbacks(state),
    )


def reminder_job(state: WebState) -> Job | None:
    """Staff reminders before due dates and for overdue requests, when that module exists."""
    if importlib.util.find_spec(REMINDERS_MODULE) is None:
        return None
    send_reminders = importlib.import_module(REMINDERS_MODULE).send_reminders

    def run() -> None:
        with state.session_factory() as session, session.begin():
            send_reminders(
                session=session,
                mailer=state.mailer,
                base_url=state.settings.base_url,
                now=dt.datetime.now(dt.UTC),
            )

    return Job("staff-reminders", REMINDER_INTERVAL, run)


def standard_jobs(state: WebState) -> list[Job]:
    jobs = [callback_job(state)]
    reminders = reminder_job(state)
    if reminders is not None:
        jobs.append(reminders)
    return jobs
