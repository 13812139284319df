"""Workers: `opendpo worker` processes, or threads inside `opendpo serve` (embedded).

Both run the same Huey consumer over the same queue with a sweeper beside it; the embedded
one only leaves signal handling to the server that hosts it.
"""

from __future__ import annotations

import logging

from huey.consumer import Consumer

from opendpo.tasks.queue import StepQueue, Sweeper

logger = logging.getLogger("opendpo.tasks")


class _HostedConsumer(Consumer):  # type: ignore[misc]
    """A consumer that lives in another program's process (the web server): it must not
    take over SIGINT/SIGTERM, which are the server's, and cannot (not the main thread)."""

    def _set_signal_handlers(self) -> None:
        return None


class Worker:
    """A consumer and a sweeper over one step queue."""

    def __init__(
        self, queue: StepQueue, *, threads: int, sweep_interval: float, hosted: bool
    ) -> None:
        consumer_class = _HostedConsumer if hosted else Consumer
        self.queue = queue
        # Short polls: the embedded SQLite queue is polled, and a person waits on the result.
        self.consumer = consumer_class(
            queue.huey,
            workers=threads,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=1.0,
        )
        self.sweeper = Sweeper(queue, sweep_interval)

    def start(self) -> None:
        """Start in the background (embedded)."""
        self.consumer.start()
        self.sweeper.start()

    def run(self) -> None:
        """Run in the foreground until SIGINT/SIGTERM (`opendpo worker`)."""
        self.sweeper.start()
        try:
            self.consumer.run()
        finally:
            self.sweeper.stop()
            self.queue.close()

    def stop(self) -> None:
        self.sweeper.stop()
        self.consumer.stop(graceful=True)
        self.queue.close()
