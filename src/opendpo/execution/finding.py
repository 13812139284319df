"""The find phase: every row of one dataset reachable from the person's identities.

Collections are read in the graph's order; each is looked up by the identity values it
holds and by the values its references receive from collections read before it (in this
dataset, or in earlier steps' outputs). Values that later datasets need are handed on as the
step's outputs; the rows themselves go to the row store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import phonenumbers

from opendpo.connectors.base import Connector, Row, get_path
from opendpo.execution.graph import Node, Traversal
from opendpo.execution.planning import IDENTITY_NAMES
from opendpo.subjects.identities import IdentityKind


class RowTarget(Protocol):
    """Where found rows go: the row store (a step), or memory (the dry run)."""

    def add(self, collection: str, row: Row) -> None: ...


def _edge_key(node: Node, field_path: str) -> str:
    return f"{node[0]}.{node[1]}.{field_path}"


def identity_values(identities: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Dataset identity name → values to look for, from (kind, normalised value) pairs."""
    found: dict[str, list[str]] = {}
    for name, kind in IDENTITY_NAMES.items():
        values: list[str] = []
        for identity_kind, value in identities:
            if identity_kind != kind.value:
                continue
            if kind is IdentityKind.PHONE:
                # Systems store numbers as people typed them: the normal form alone misses most.
                number = phonenumbers.parse(value, None)
                national = phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.NATIONAL
                )
                spaced = phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                )
                for spelling in (value, spaced, national, national.replace(" ", "")):
                    if spelling not in values:
                        values.append(spelling)
            elif value not in values:
                values.append(value)
        if values:
            found[name] = values
    return found


@dataclass
class FindResult:
    counts: dict[str, int]
    outputs: dict[str, list[Any]] = field(default_factory=dict)


def find_dataset(
    *,
    connector: Connector,
    traversal: Traversal,
    dataset: str,
    identities: Mapping[str, Sequence[str]],
    upstream: Mapping[str, Sequence[Any]],
    sink: RowTarget,
    heartbeat: Callable[[], None],
) -> FindResult:
    """Read the dataset's collections in order; `upstream` holds earlier steps' outputs."""
    carried: dict[str, set[Any]] = {k: {_hashable(v) for v in vs} for k, vs in upstream.items()}
    counts: dict[str, int] = {}
    nodes = traversal.nodes_of(dataset)
    # Fields whose values some later collection (here or in another dataset) is looked up by.
    wanted: dict[Node, set[str]] = {node: traversal.outgoing_fields(node) for node in nodes}
    with connector.reading():
        for node in nodes:
            spec = traversal.collections[node]
            where: dict[str, list[Any]] = {}
            for identity, path in traversal.seeds.get(node, []):
                values = identities.get(identity)
                if values:
                    where.setdefault(path, []).extend(values)
            for edge in traversal.incoming[node]:
                values_in = carried.get(_edge_key(edge.source, edge.source_field))
                if values_in:
                    where.setdefault(edge.target_field, []).extend(values_in)
            count = 0
            if where:
                keep = wanted[node]
                for row in connector.find(spec, {k: _unique(v) for k, v in where.items()}):
                    sink.add(spec.key, row)
                    count += 1
                    for path in keep:
                        value = get_path(row, path)
                        if value is not None:
                            carried.setdefault(_edge_key(node, path), set()).add(_hashable(value))
                    if count % 10_000 == 0:
                        heartbeat()
            counts[spec.key] = count
    outputs = {
        key: sorted(values, key=repr)
        for key, values in carried.items()
        if key.split(".", 1)[0] == dataset and key not in upstream
    }
    return FindResult(counts=counts, outputs=outputs)


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _hashable(value: Any) -> Any:
    return value if not isinstance(value, list | dict) else repr(value)
