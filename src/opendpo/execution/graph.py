"""The dataset graph: from a person's identities, which collections can be reached, in what
order, with which field feeding which.

Identity fields (fides_meta.identity) seed the search. A reference on a field carries values
along an edge: `direction: to` from the field holding it to the referenced field, `from` the
other way, none both ways. A collection is read once, after every collection that feeds it;
where references form a loop, the edge back to a collection already read is not followed
again (its values could only find rows already found). A collection's fideslang `after`
adds orderings of its own; `skip_processing` leaves the collection out altogether. Reads
then run in that order, dataset by dataset: a dataset's step needs the steps of the
datasets that feed it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from opendpo.connectors.base import CollectionSpec
from opendpo.errors import DomainError

Node = tuple[str, str]  # (dataset, collection)


class GraphProblem(DomainError):
    code = "dataset_graph"


@dataclass(frozen=True)
class Edge:
    """Values of `source_field` in rows of `source` are looked up in `target_field` of `target`."""

    source: Node
    source_field: str
    target: Node
    target_field: str


@dataclass
class Traversal:
    """What a request reads: collections in order, the edges that feed each, and seeds."""

    order: list[Node]
    collections: dict[Node, CollectionSpec]
    incoming: dict[Node, list[Edge]]
    # identity kind (as datasets name it, e.g. "email") → fields holding it, per collection
    seeds: dict[Node, list[tuple[str, str]]]
    datasets: list[str] = field(default_factory=list)  # in the order their steps must run
    dataset_needs: dict[str, set[str]] = field(default_factory=dict)

    def outgoing_fields(self, node: Node) -> set[str]:
        """Fields of `node` whose values some later collection is looked up by."""
        return {
            e.source_field for edges in self.incoming.values() for e in edges if e.source == node
        }

    def nodes_of(self, dataset: str) -> list[Node]:
        return [n for n in self.order if n[0] == dataset]

    def unreachable(self) -> list[Node]:
        """Collections holding personal data that no identity reaches."""
        reached = set(self.order)
        return sorted(
            node
            for node, spec in self.collections.items()
            if node not in reached and any(f.personal for f in spec.fields)
        )


def edges_of(collections: Mapping[Node, CollectionSpec]) -> list[Edge]:
    found: list[Edge] = []
    for node, spec in collections.items():
        for item in spec.fields:
            for dataset, collection, target_field, direction in item.references:
                target = (dataset, collection)
                if target not in collections:
                    # The policy checks report dangling references; a connected system's
                    # dataset may reference one that is not connected (yet).
                    continue
                if direction in (None, "to"):
                    found.append(Edge(node, item.path, target, target_field))
                if direction in (None, "from"):
                    found.append(Edge(target, target_field, node, item.path))
    return found


def traverse(
    collections: Iterable[CollectionSpec], identity_kinds: Iterable[str] | None = None
) -> Traversal:
    """The reading order from the identity fields; `identity_kinds` limits the seeds to the
    identities a request actually has (None: every identity the datasets declare)."""
    specs = {(c.dataset, c.name): c for c in collections if not c.options.get("skip_processing")}
    wanted = None if identity_kinds is None else set(identity_kinds)
    seeds: dict[Node, list[tuple[str, str]]] = {}
    for node, spec in specs.items():
        for item in spec.fields:
            if item.identity and (wanted is None or item.identity in wanted):
                seeds.setdefault(node, []).append((item.identity, item.path))

    edges = edges_of(specs)
    out: dict[Node, list[Edge]] = defaultdict(list)
    for edge in edges:
        out[edge.source].append(edge)

    # Breadth-first distance from the seeds decides which way a loop is cut.
    distance: dict[Node, int] = dict.fromkeys(seeds, 0)
    frontier = sorted(seeds)
    while frontier:
        following: list[Node] = []
        for node in frontier:
            for edge in out[node]:
                if edge.target not in distance:
                    distance[edge.target] = distance[node] + 1
                    following.append(edge.target)
        frontier = sorted(following)

    reached = set(distance)
    incoming: dict[Node, list[Edge]] = {node: [] for node in reached}
    for edge in edges:
        if edge.source in reached and edge.target in reached:
            incoming[edge.target].append(edge)

    # fideslang `after`: read a collection only once the named ones have been read, even
    # where no reference says so (e.g. a table a trigger fills from another).
    after: dict[Node, set[Node]] = {}
    for node in reached:
        for key in specs[node].options.get("after") or ():
            dataset, _, collection = str(key).partition(".")
            if (dataset, collection) in reached and (dataset, collection) != node:
                after.setdefault(node, set()).add((dataset, collection))
    order = _order(reached, incoming, distance, after)
    position = {node: i for i, node in enumerate(order)}
    # Keep only edges that run forward in the order: a back edge would need a second read.
    for node in order:
        incoming[node] = [e for e in incoming[node] if position[e.source] < position[node]]

    needs: dict[str, set[str]] = defaultdict(set)
    for node in order:
        needs.setdefault(node[0], set())
        for edge in incoming[node]:
            if edge.source[0] != node[0]:
                needs[node[0]].add(edge.source[0])
        for earlier in after.get(node, ()):
            if earlier[0] != node[0] and position[earlier] < position[node]:
                needs[node[0]].add(earlier[0])
    return Traversal(
        order=order,
        collections=specs,
        incoming=incoming,
        seeds={n: s for n, s in seeds.items() if n in reached},
        datasets=_dataset_order(needs, order),
        dataset_needs=dict(needs),
    )


def _order(
    reached: set[Node],
    incoming: Mapping[Node, Sequence[Edge]],
    distance: Mapping[Node, int],
    after: Mapping[Node, set[Node]],
) -> list[Node]:
    """Kahn's algorithm; when only loops remain, take the node nearest a seed and read it with
    what has been found so far."""
    waiting = {
        node: {e.source for e in incoming[node] if e.source != node} | after.get(node, set())
        for node in reached
    }
    order: list[Node] = []
    done: set[Node] = set()
    while waiting:
        ready = sorted(
            (n for n, sources in waiting.items() if sources <= done),
            key=lambda n: (distance[n], n),
        )
        if not ready:
            ready = [min(waiting, key=lambda n: (distance[n], n))]
        for node in ready:
            order.append(node)
            done.add(node)
            del waiting[node]
    return order


def _dataset_order(needs: Mapping[str, set[str]], order: Sequence[Node]) -> list[str]:
    first_seen: dict[str, int] = {}
    for i, (dataset, _) in enumerate(order):
        first_seen.setdefault(dataset, i)
    result: list[str] = []
    done: set[str] = set()
    pending = dict(needs)
    while pending:
        ready = sorted(
            (d for d, required in pending.items() if (required - {d}) <= done),
            key=lambda d: first_seen.get(d, 0),
        )
        if not ready:
            loop = ", ".join(sorted(pending))
            raise GraphProblem(
                f"datasets {loop} feed each other through references: a request could not "
                "read them one system at a time; point the references one way"
            )
        for dataset in ready:
            result.append(dataset)
            done.add(dataset)
            del pending[dataset]
    return result
