"""Rows kept for the length of one piece of work, as JSON lines in sealed spools.

The dry run of an erasure reads a person's rows and lists a line for each: a person with a
million rows must not need a million rows of memory, nor leave them readable on disk. Each
collection's rows go to a `SealedSpool` of their own, and come back in the order written, as
often as they are asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from opendpo.execution.rowstore import json_ready
from opendpo.security.sealed_spool import SealedSpool
from opendpo.store.json_text import dumps


class SpooledRows:
    def __init__(self) -> None:
        self._spools: dict[str, SealedSpool] = {}
        self.counts: dict[str, int] = {}

    def add(self, collection: str, row: dict[str, Any]) -> None:
        spool = self._spools.get(collection)
        if spool is None:
            spool = self._spools[collection] = SealedSpool()
        # Dates, decimals and bytes as text, as the row store keeps them.
        spool.write(dumps(json_ready(row)).encode("utf-8") + b"\n")
        self.counts[collection] = self.counts.get(collection, 0) + 1

    def rows(self, collection: str) -> Iterator[dict[str, Any]]:
        """The collection's rows in the order added (none for a collection never added to)."""
        spool = self._spools.get(collection)
        if spool is None:
            return
        rest = b""
        for chunk in spool.chunks():
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield json.loads(line)  # `json`: integers beyond 64 bits stay exact

    def close(self) -> None:
        for spool in self._spools.values():
            spool.close()
        self._spools.clear()

    def __enter__(self) -> SpooledRows:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
