"""Which fields of a collection an erasure touches, with which strategy, and why.

The policy's erasure section read against one collection: a field override wins, then the
most specific category rule, then the default; an exemption keeps the fields it names and
keeps the row; primary keys and references stay unless the row goes. The dry run prints these
decisions, the policy checks report the impossible ones, and the plan applies them to rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from opendpo.connectors.base import CollectionSpec, FieldSpec
from opendpo.policy.model.erasure import Erasure, Exemption, Masking
from opendpo.policy.model.fides_masking import from_fides

NULL = Masking(strategy="null")


def unfit(masking: Masking, spec: FieldSpec) -> str | None:
    """Why the field's declared data_type cannot take what the strategy writes, or None."""
    data_type = spec.data_type
    if data_type is None or masking.strategy in ("null", "delete_row"):
        return None
    base, array = data_type.removesuffix("[]"), data_type.endswith("[]")
    if masking.strategy == "fixed":
        if _holds(masking.value, base, array):
            return None
        return f"{_a(data_type)} field cannot hold {json.dumps(masking.value)}"
    if not array and base in ("string", "object_id"):
        return None
    return f"{_a(data_type)} field cannot hold the string {masking.strategy} writes"


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _holds(value: Any, base: str, array: bool) -> bool:
    if value is None:
        return True
    if array:
        return isinstance(value, list) and all(_holds(v, base, False) for v in value)
    if base in ("string", "object_id"):
        return isinstance(value, str)
    if base == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base == "boolean":
        return isinstance(value, bool)
    return isinstance(value, dict)  # object


class Source(StrEnum):
    """Where a field's treatment comes from, for the dry run and the policy checks."""

    DEFAULT = "default"  # erasure.default_strategy
    CATEGORY = "category"  # erasure.categories[rule]
    FIELD = "field"  # erasure.fields[rule]
    DATASET = "dataset"  # the field's fides_meta.masking_strategy_override (rule: its strategy)
    EXEMPTION = "exemption"  # kept by erasure.exemptions (rule: the collection)


@dataclass(frozen=True)
class FieldDecision:
    field: FieldSpec
    masking: Masking | None  # what is written; None: kept as it is
    source: Source
    rule: str = ""  # the category or field key the strategy comes from
    note: str = ""  # why the field is kept, or why the strategy was changed
    protected: str | None = None  # why the strategy could not apply (see `protection`)

    @property
    def why(self) -> str:
        if self.source is Source.DEFAULT:
            reason = "the default strategy"
        elif self.source is Source.CATEGORY:
            reason = f"the rule for {self.rule}"
        elif self.source is Source.FIELD:
            reason = "the field's own strategy"
        elif self.source is Source.DATASET:
            reason = f"the dataset's masking_strategy_override ({self.rule})"
        else:
            reason = "named in the exemption's keep"
        return f"{reason}; {self.note}" if self.note else reason


@dataclass(frozen=True)
class CollectionDecision:
    collection: CollectionSpec
    delete: bool
    reason: str  # why the rows are deleted, kept or left alone, to follow those words
    fields: tuple[FieldDecision, ...] = ()
    exemption: Exemption | None = None

    @property
    def masked(self) -> tuple[FieldDecision, ...]:
        return tuple(d for d in self.fields if d.masking is not None)

    @property
    def touched(self) -> bool:
        return self.delete or bool(self.masked)


def referenced_fields(collections: Iterable[CollectionSpec]) -> dict[str, frozenset[str]]:
    """Per collection key, the fields that other collections' references point at."""
    found: dict[str, set[str]] = {}
    for spec in collections:
        for item in spec.fields:
            for dataset, collection, target, _ in item.references:
                key = f"{dataset}.{collection}"
                if key != spec.key:
                    found.setdefault(key, set()).add(target)
    return {key: frozenset(paths) for key, paths in found.items()}


def _leaves(spec: CollectionSpec) -> list[tuple[FieldSpec, tuple[str, ...]]]:
    """Fields holding values (not parents of nested fields), each with its categories: its
    own, else those of the nearest parent that has some."""
    paths = {f.path: f for f in spec.fields}
    parents = {f.path.rsplit(".", 1)[0] for f in spec.fields if "." in f.path}
    leaves = []
    for item in spec.fields:
        if item.path in parents:
            continue
        categories = item.data_categories
        path = item.path
        while not categories and "." in path:
            path = path.rsplit(".", 1)[0]
            parent = paths.get(path)
            categories = parent.data_categories if parent is not None else ()
        leaves.append((item, categories))
    return leaves


def _covered(categories: Sequence[str], covers: Sequence[str]) -> bool:
    return any(c == root or c.startswith(root + ".") for c in categories for root in covers)


def strategy_for(
    spec: CollectionSpec, item: FieldSpec, categories: Sequence[str], erasure: Erasure
) -> tuple[Masking, Source, str] | None:
    """The strategy the policy gives the field, with where it comes from; None when the
    erasure does not cover it. The policy's field strategy wins over the dataset's own
    (masking_strategy_override), which wins over the category rules."""
    key = f"{spec.key}.{item.path}"
    if key in erasure.fields:
        return erasure.fields[key], Source.FIELD, key
    if not _covered(categories, erasure.covers):
        return None
    if item.masking_override is not None:
        mapped = from_fides(item.masking_override)
        return mapped.masking, Source.DATASET, str(item.masking_override.get("strategy", ""))
    best: tuple[int, str] | None = None
    for category in categories:
        for rule in erasure.categories:
            if (category == rule or category.startswith(rule + ".")) and (
                best is None or len(rule) > best[0]
            ):
                best = (len(rule), rule)
    if best is not None:
        return erasure.categories[best[1]], Source.CATEGORY, best[1]
    return erasure.default_strategy, Source.DEFAULT, ""


def _kept(path: str, keep: Sequence[str]) -> bool:
    return any(path == k or path.startswith(k + ".") for k in keep)


def protection(item: FieldSpec, referenced: Collection[str]) -> str | None:
    """Why a field can only be kept or go with its row, or None."""
    if item.primary_key:
        return "the primary key"
    if item.references:
        return "a reference to another collection"
    if item.path in referenced:
        return "referenced by another collection"
    if item.read_only:
        return "read-only"
    return None


def decide(
    spec: CollectionSpec, *, erasure: Erasure, referenced: Collection[str] = frozenset()
) -> CollectionDecision:
    """What an erasure does to the collection's rows: delete them, or which fields to mask.

    `referenced` names the collection's fields other collections point at (see
    `referenced_fields`): like primary keys, they are kept unless the row is deleted.
    """
    exemption = erasure.exemption(spec.key)
    decisions: list[FieldDecision] = []
    for item, categories in _leaves(spec):
        found = strategy_for(spec, item, categories, erasure)
        if found is None:
            continue
        masking, source, rule = found
        if exemption is not None and _kept(item.path, exemption.keep):
            decisions.append(FieldDecision(item, None, Source.EXEMPTION, spec.key))
        else:
            note = ""
            if source is Source.DATASET and item.masking_override is not None:
                note = from_fides(item.masking_override).note
            decisions.append(FieldDecision(item, masking, source, rule, note))

    override = spec.options.get("masking_strategy_override") or {}
    deleting = [
        d for d in decisions if d.masking is not None and d.masking.strategy == "delete_row"
    ]
    dataset_deletes = bool(decisions) and override.get("strategy") == "delete"
    if exemption is None:
        if dataset_deletes:
            reason = "the dataset's masking_strategy_override deletes them"
            return CollectionDecision(spec, True, reason)
        if deleting:
            first = deleting[0]
            reason = f"delete_row for {first.field.path} ({first.why})"
            return CollectionDecision(spec, True, reason)

    fields = tuple(_settle(d, referenced) for d in decisions)
    if exemption is not None:
        reason = f"under retention rule {exemption.retention}: {exemption.reason}"
        if dataset_deletes:
            reason += " (the exemption overrides the dataset's masking_strategy_override)"
    elif fields:
        reason = "with the covered fields masked"
    else:
        reason = "nothing in them is covered"
    return CollectionDecision(spec, False, reason, fields, exemption)


def _settle(decision: FieldDecision, referenced: Collection[str]) -> FieldDecision:
    """The strategy a field of a row that stays really gets."""
    masking = decision.masking
    if masking is None:
        return decision
    protected = protection(decision.field, referenced)
    if protected is not None:
        note = f"{protected}, which only deleting the row removes"
        return replace(decision, masking=None, note=note, protected=protected)
    if masking.strategy == "delete_row":
        # Only an exemption keeps a row whose fields say delete_row.
        note = "the exemption keeps the row, so the field is cleared instead"
        return replace(decision, masking=NULL, note=note)
    problem = unfit(masking, decision.field)
    if problem is not None:
        return replace(decision, masking=NULL, note=f"{problem}, so it is cleared instead")
    return decision
