"""Datasets (fideslang format): known categories, resolvable references, reachable by identity
(a collection marked skip_processing is left out of requests, so it reaches nothing)."""

from __future__ import annotations

from collections.abc import Iterator

from fideslang.models import DatasetField

from opendpo.policy.rules.context import RuleContext
from opendpo.policy.rules.dataset_meta import (
    check_collection_meta,
    check_dataset_meta,
    check_field_meta,
    meta_key,
)
from opendpo.policy.source import PathKey

Node = tuple[str, str]  # (dataset fides_key, collection name)


def _fields(
    ctx: RuleContext, fields: list[DatasetField] | None, path: PathKey, prefix: str = ""
) -> Iterator[tuple[str, DatasetField, PathKey]]:
    """Every field, nested ones included, with its dotted name and its path in the policy."""
    for k, item in enumerate(fields or []):
        name = f"{prefix}{item.name}"
        at = (*path, "fields", ctx.written_index((*path, "fields"), item.name, k))
        yield name, item, at
        yield from _fields(ctx, item.fields, at, prefix=f"{name}.")


def check_datasets(ctx: RuleContext) -> None:
    doc = ctx.document
    known: dict[Node, set[str]] = {}
    # skip_processing: requests leave the collection out, so it neither seeds nor carries.
    skipped: set[Node] = set()
    for dataset in doc.dataset:
        for collection in dataset.collections:
            node = (dataset.fides_key, collection.name)
            known[node] = {name for name, _, _ in _fields(ctx, collection.fields, ())}
            if collection.fides_meta is not None and collection.fides_meta.skip_processing:
                skipped.add(node)

    datasets = {dataset for dataset, _ in known}
    edges: dict[Node, set[Node]] = {node: set() for node in known}
    seeds: set[Node] = set()
    personal: dict[Node, PathKey] = {}
    broken: set[Node] = set()  # has a reference that resolves nowhere, reported already
    for i, dataset in enumerate(doc.dataset):
        for j, collection in enumerate(dataset.collections):
            node = (dataset.fides_key, collection.name)
            written = ctx.written_index(("dataset", i, "collections"), collection.name, j)
            at_collection: PathKey = ("dataset", i, "collections", written)
            check_collection_meta(ctx, collection, at_collection, known)
            for _, item, at in _fields(ctx, collection.fields, at_collection):
                for c, category in enumerate(item.data_categories or []):
                    if category not in ctx.vocabulary.data_categories:
                        ctx.error(
                            (*at, "data_categories", c), f"unknown data category '{category}'"
                        )
                    elif category.startswith("user."):
                        personal.setdefault(node, at_collection)
                meta = item.fides_meta
                if meta is None:
                    continue
                check_field_meta(ctx, item, at)
                if meta.identity and node not in skipped:
                    seeds.add(node)
                for r, reference in enumerate(meta.references or []):
                    target = _resolve(reference.dataset, reference.field, known)
                    if target is None:
                        # Point at the part that is wrong: the dataset name, or the field in it.
                        wrong = "field" if reference.dataset in datasets else "dataset"
                        ctx.error(
                            (*at, meta_key(ctx, at), "references", r, wrong),
                            f"reference to '{reference.dataset}.{reference.field}' names no "
                            "declared dataset field",
                        )
                        broken.add(node)
                        continue
                    if node in skipped or target in skipped:
                        continue
                    if reference.direction in (None, "to"):
                        edges[node].add(target)
                    if reference.direction in (None, "from"):
                        edges[target].add(node)

    reachable = _reach(seeds, edges)
    for node, at in personal.items():
        if node in skipped:
            ctx.warning(
                at,
                f"collection '{node[0]}.{node[1]}' holds personal data but skip_processing "
                "is set: requests never read or change it",
            )
        elif node not in reachable and node not in broken:
            ctx.error(
                at,
                f"collection '{node[0]}.{node[1]}' holds personal data but no identity reaches "
                "it: mark an identity field (fides_meta.identity) or add references",
            )

    used = {key for system in doc.systems for key in system.datasets}
    for i, dataset in enumerate(doc.dataset):
        check_dataset_meta(ctx, dataset, ("dataset", i))
        if dataset.fides_key not in used:
            ctx.warning(("dataset", i), f"dataset '{dataset.fides_key}' belongs to no system")


def _resolve(dataset: str, field: str, known: dict[Node, set[str]]) -> Node | None:
    collection, _, name = field.partition(".")
    node = (dataset, collection)
    if node in known and name in known[node]:
        return node
    return None


def _reach(seeds: set[Node], edges: dict[Node, set[Node]]) -> set[Node]:
    seen = set(seeds)
    frontier = list(seeds)
    while frontier:
        for following in edges.get(frontier.pop(), ()):
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return seen
