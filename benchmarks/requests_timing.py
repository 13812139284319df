"""Timing and memory inside a benchmark's requests (`requests.py` and the scripts that reuse
it): the seconds spent in connectors' `find` and in applying changes, the statements sent to
OpenDPO's store (counted on a clock the runtime's pool carries), and a run's peak RSS."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from opendpo.connectors.base import Applied, Change, CollectionSpec, Connector, Row
from opendpo.execution.systems import ConnectorPool, SystemBinding


class Clock:
    """Seconds spent inside connectors, and statements sent to OpenDPO's store."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0

    def count(self, *_: object) -> None:
        self.statements += 1


class TimedConnector:
    """A connector whose `find` and `apply` time is added to a clock (the caller's work
    between rows is not)."""

    def __init__(self, inner: Connector, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock
        self.name = inner.name

    def check(self) -> str:
        return self._inner.check()

    def find(self, collection: CollectionSpec, where: Mapping[str, Sequence[Any]]) -> Iterator[Row]:
        clock = self._clock
        started = time.perf_counter()
        rows = self._inner.find(collection, where)
        clock.seconds += time.perf_counter() - started
        while True:
            started = time.perf_counter()
            try:
                row = next(rows)
            except StopIteration:
                clock.seconds += time.perf_counter() - started
                return
            clock.seconds += time.perf_counter() - started
            yield row

    def reading(self) -> AbstractContextManager[None]:
        return self._inner.reading()

    def apply(self, changes: Sequence[Change]) -> Applied:
        started = time.perf_counter()
        try:
            return self._inner.apply(changes)
        finally:
            self._clock.seconds += time.perf_counter() - started

    def apply_batches(self, batches: Iterable[Sequence[Change]]) -> Applied:
        clock = self._clock

        def planned(found: Iterator[Sequence[Change]]) -> Iterator[Sequence[Change]]:
            # The engine works out each batch as the connector asks for it: not the connector's.
            while True:
                paused = time.perf_counter()
                try:
                    batch = next(found)
                except StopIteration:
                    clock.seconds -= time.perf_counter() - paused
                    return
                clock.seconds -= time.perf_counter() - paused
                yield batch

        started = time.perf_counter()
        try:
            return self._inner.apply_batches(planned(iter(batches)))
        finally:
            clock.seconds += time.perf_counter() - started

    def close(self) -> None:
        self._inner.close()


class TimedPool(ConnectorPool):
    def __init__(self, environ: Mapping[str, str], clock: Clock) -> None:
        super().__init__(environ)
        self.clock = clock
        self._wrapped: dict[int, TimedConnector] = {}

    def get(self, system: SystemBinding) -> Connector:
        inner = super().get(system)
        wrapped = self._wrapped.get(id(inner))
        if wrapped is None:
            wrapped = self._wrapped[id(inner)] = TimedConnector(inner, self.clock)
        return wrapped


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the peak so far


def reset_peak_rss() -> int:
    """The RSS now (KiB), with the kernel's peak (VmHWM) reset to it: the peak read after the
    run is then the run's own, not that of loading the application."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return status_kib("VmRSS")
