"""`opendpo worker`: run request steps from the queue, on this machine, until stopped."""

from __future__ import annotations

import click

from opendpo.cli.state import CliState, pass_state
from opendpo.execution.runtime import make_runtime
from opendpo.logs import configure_logging
from opendpo.tasks.queue import StepQueue, make_huey
from opendpo.tasks.worker import Worker


@click.command("worker")
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Steps run at once (default: OPENDPO_WORKER_THREADS).",
)
@pass_state
def worker_command(state: CliState, threads: int | None) -> None:
    """Work request steps from the queue (OPENDPO_TASK_QUEUE_URL) until SIGINT or SIGTERM.

    Start as many as you like, on as many machines as share the store and the queue: a
    step runs on one worker at a time, and a worker that dies mid-step is taken over once
    its lease (OPENDPO_STEP_LEASE_SECONDS) runs out.
    """
    settings = state.settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    engine = state.engine()
    keyring = state.keyring()
    queue = StepQueue(
        make_huey(settings),
        lambda: make_runtime(settings=settings, engine=engine, keyring=keyring),
    )
    where = settings.task_queue_url or f"embedded queue {settings.task_queue_path}"
    click.echo(f"worker: {threads or settings.worker_threads} thread(s) on {where}", err=True)
    Worker(
        queue,
        threads=threads or settings.worker_threads,
        sweep_interval=settings.sweep_interval_seconds,
        hosted=False,
    ).run()
