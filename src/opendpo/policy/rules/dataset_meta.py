"""What a Fides dataset's `fides_meta` asks for, checked against what OpenDPO carries out.

Honoured: identity, primary_key, references, data_type, length (masked values are cut to
it), read_only, masking_strategy_override (a collection's delete, a field's own strategy),
after and erase_after (orderings), skip_processing. Everything else Fides accepts loads too,
but OpenDPO cannot honour it, so it is reported as a warning: a dataset written for Fides
never loses an instruction without its author being told.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fideslang.models import Dataset, DatasetCollection, DatasetField

from opendpo.connectors.base import FieldSpec
from opendpo.execution.erasure_fields import unfit
from opendpo.policy.model.fides_masking import from_fides
from opendpo.policy.rules.context import RuleContext
from opendpo.policy.source import PathKey


def meta_key(ctx: RuleContext, at: PathKey) -> str:
    """`fides_meta`, or `fidesops_meta` where the YAML at `at` uses the older spelling, so that
    problems point at what was written."""
    node: Any = ctx.data
    for part in at:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return "fides_meta"
    if isinstance(node, Mapping) and "fidesops_meta" in node and "fides_meta" not in node:
        return "fidesops_meta"
    return "fides_meta"


def check_field_meta(ctx: RuleContext, item: DatasetField, at: PathKey) -> None:
    meta = item.fides_meta
    if meta is None:
        return
    where = (*at, meta_key(ctx, at))
    if meta.masking_strategy_override is not None:
        override = meta.masking_strategy_override.model_dump()
        mapped = from_fides(override)
        at_override = (*where, "masking_strategy_override")
        if mapped.error:
            ctx.error((*at_override, "strategy"), mapped.error)
        elif meta.primary_key or meta.references or meta.read_only:
            what = (
                "the primary key"
                if meta.primary_key
                else "a reference to another collection"
                if meta.references
                else "read-only"
            )
            ctx.warning(
                at_override,
                f"field '{item.name}' is {what}: an erasure keeps it unless the row is "
                "deleted, so this masking_strategy_override is never applied",
            )
        elif problem := unfit(mapped.masking, FieldSpec(item.name, data_type=meta.data_type)):
            ctx.warning(
                at_override,
                f"masking_strategy_override {override['strategy']}: {problem}, so an erasure "
                "clears it instead",
            )
        elif mapped.note:
            ctx.warning(
                at_override, f"masking_strategy_override {override['strategy']}: {mapped.note}"
            )
    if meta.return_all_elements:
        ctx.warning(
            (*where, "return_all_elements"),
            "return_all_elements is not supported: an array field is read and returned whole",
        )
    if meta.custom_request_field:
        ctx.warning(
            (*where, "custom_request_field"),
            "custom_request_field is not supported: requests find rows by identities and "
            "references only, never by this field",
        )
    if meta.redact:
        ctx.warning(
            (*where, "redact"), "redact is not supported: packages show the field's own name"
        )


def check_collection_meta(
    ctx: RuleContext,
    collection: DatasetCollection,
    at: PathKey,
    known: Mapping[tuple[str, str], set[str]],
) -> None:
    meta = collection.fides_meta
    if meta is None:
        return
    where = (*at, meta_key(ctx, at))
    for name in ("after", "erase_after"):
        for k, key in enumerate(getattr(meta, name) or []):
            dataset, _, other = key.partition(".")
            if (dataset, other) not in known:
                ctx.error(
                    (*where, name, k), f"{name} names '{key}', which is no declared collection"
                )
    if meta.partitioning:
        ctx.warning(
            (*where, "partitioning"),
            "partitioning is not supported: each request reads the whole collection",
        )
    if meta.redact:
        ctx.warning(
            (*where, "redact"), "redact is not supported: packages show the collection's own name"
        )


def check_dataset_meta(ctx: RuleContext, dataset: Dataset, at: PathKey) -> None:
    meta = dataset.fides_meta
    if meta is None:
        return
    where = (*at, meta_key(ctx, at))
    if meta.after:
        ctx.warning(
            (*where, "after"),
            "a dataset's after is not supported: datasets are read in the order their "
            "references need (write after on a collection to order two collections)",
        )
    if meta.namespace:
        ctx.warning(
            (*where, "namespace"),
            "namespace is not supported: tables are read where the connection's URL leads",
        )
    if meta.redact:
        ctx.warning((*where, "redact"), "redact is not supported: packages show the dataset's name")
