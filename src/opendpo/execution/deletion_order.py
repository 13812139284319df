"""The order in which an erasure deletes rows: children before the parents they reference.

A field with `references` holds a foreign key, so its collection is the child: its rows must go
before the rows they point at. Fides datasets sometimes declare the reference on the parent's
side instead (the parent's primary key "referencing" a child's plain field); that is read the
other way round. `erase_after` (fideslang collection meta) adds orderings of its own. Where
references form a loop no order can put every child first: the loop is cut at the collection
that comes first in the given order, and the plan says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from opendpo.connectors.base import CollectionSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeletionOrder:
    collections: list[CollectionSpec]
    # One plain sentence per loop that had to be cut, for the plan and the dry run.
    cycles: list[str]


def _is_primary_key(spec: CollectionSpec, path: str) -> bool:
    return any(f.path == path and f.primary_key for f in spec.fields)


def _first_before(collections: Sequence[CollectionSpec]) -> dict[str, set[str]]:
    """For each collection key, the keys whose rows must be deleted before its own."""
    specs = {c.key: c for c in collections}
    before: dict[str, set[str]] = {key: set() for key in specs}
    for spec in collections:
        for item in spec.fields:
            for dataset, collection, target_field, _ in item.references:
                target = f"{dataset}.{collection}"
                if target not in specs or target == spec.key:
                    continue  # a self-reference orders rows, not collections
                child, parent = spec.key, target
                if item.primary_key and not _is_primary_key(specs[target], target_field):
                    child, parent = target, spec.key
                before[parent].add(child)
        for earlier in spec.options.get("erase_after") or ():
            if earlier in specs and earlier != spec.key:
                before[spec.key].add(earlier)
    return before


def _on_loop(key: str, before: dict[str, set[str]], done: set[str]) -> bool:
    """Whether `key` waits, through collections not yet deleted, on itself."""
    seen: set[str] = set()
    frontier = list(before[key] - done)
    while frontier:
        current = frontier.pop()
        if current == key:
            return True
        if current not in seen:
            seen.add(current)
            frontier.extend(before[current] - done)
    return False


def ordered_for_deletion(collections: Sequence[CollectionSpec]) -> DeletionOrder:
    """Children first; otherwise the given order. Deterministic for the same input."""
    before = _first_before(collections)
    position = {c.key: i for i, c in enumerate(collections)}
    specs = {c.key: c for c in collections}
    pending = [c.key for c in collections]
    done: set[str] = set()
    order: list[CollectionSpec] = []
    cycles: list[str] = []
    while pending:
        ready = next((key for key in pending if before[key] <= done), None)
        if ready is None:
            ready = next(key for key in pending if _on_loop(key, before, done))
            waiting = sorted(before[ready] - done, key=position.__getitem__)
            message = (
                f"{ready} is deleted before {', '.join(waiting)}, although "
                f"{'they reference' if len(waiting) > 1 else 'it references'} {ready}: their "
                "references form a loop, so no order deletes every child first; the system "
                "must allow it (a nullable or deferred foreign key) or the delete fails"
            )
            logger.warning("deletion order: %s", message)
            cycles.append(message)
        pending.remove(ready)
        done.add(ready)
        order.append(specs[ready])
    return DeletionOrder(order, cycles)


def deletion_order(collections: Sequence[CollectionSpec]) -> list[CollectionSpec]:
    return ordered_for_deletion(collections).collections
