"""Connecting the policy's systems to the demo estate, so that requests run on it.

Each system whose datasets the estate holds gets a SQL connection to the database holding
them. The connections are saved in the store (as `opendpo systems add` saves them) rather
than written in the policy: the estate's SQLite files live wherever the demo was built, and
a stored URL is absolute, so the worker and the server find them from any directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opendpo.policy.model.document import PolicyDocument


@dataclass(frozen=True)
class EstateConnection:
    system: str
    datasets: tuple[str, ...]
    config: Mapping[str, Any]


def estate_connections(
    *, policy: PolicyDocument, urls: Mapping[str, str]
) -> tuple[list[EstateConnection], list[str]]:
    """(the connections to save, one per system the estate can serve; the systems left out,
    each with the reason) for the estate databases `urls` (dataset key → SQLAlchemy URL)."""
    connections: list[EstateConnection] = []
    left_out: list[str] = []
    for system in policy.systems:
        held = [key for key in system.datasets if key in urls]
        if not held:
            continue
        if len(held) < len(system.datasets):
            missing = ", ".join(key for key in system.datasets if key not in urls)
            left_out.append(f"{system.key}: the estate does not hold {missing}")
            continue
        where = {urls[key] for key in held}
        if len(where) > 1:
            # One SQL connection reaches one database.
            left_out.append(f"{system.key}: its datasets are in {len(where)} databases")
            continue
        connections.append(
            EstateConnection(
                system=system.key,
                datasets=tuple(held),
                config={"type": "sql", "url": where.pop()},
            )
        )
    return connections, left_out
