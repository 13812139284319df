"""The erasure and restriction sections against the datasets: every field named exists, every
strategy can be carried out, and nothing an erasure must keep whole would be masked.

The protected-field check reads the erasure exactly as a request would carry it out
(opendpo.execution.erasure_fields), so the policy check and the dry run cannot disagree.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from opendpo.connectors.base import CollectionSpec, FieldSpec, dataset_specs
from opendpo.execution.erasure_fields import Source, decide, protection, referenced_fields, unfit
from opendpo.policy.model.erasure import Masking
from opendpo.policy.rules.context import RuleContext
from opendpo.policy.source import PathKey

Specs = dict[str, dict[str, CollectionSpec]]  # dataset fides_key → collection name → spec


def check_erasure(ctx: RuleContext) -> None:
    doc = ctx.document
    erasure = doc.erasure
    specs: Specs = {d.fides_key: {c.name: c for c in dataset_specs(d)} for d in doc.dataset}
    categories = ctx.vocabulary.data_categories

    ctx.check_known(("erasure", "covers"), erasure.covers, categories, "data category")
    _check_masking(ctx, ("erasure", "default_strategy"), erasure.default_strategy)
    for key, masking in erasure.categories.items():
        at: PathKey = ("erasure", "categories", key)
        if key not in categories:
            ctx.problems.append(ctx.problem_at_key(at, f"unknown data category '{key}'"))
        elif not any(_related(key, root) for root in erasure.covers):
            ctx.warning(
                at,
                f"the strategy for '{key}' never applies: erasure.covers "
                f"({', '.join(erasure.covers)}) does not include it",
            )
        _check_masking(ctx, at, masking)

    for ref, masking in erasure.fields.items():
        at = ("erasure", "fields", ref)
        if not _check_masking(ctx, at, masking):
            continue
        found = _field(ctx, at, ref, specs, at_key=True)
        if found is None:
            continue
        spec, item = found
        parents = [f.path for f in spec.fields if f.path.startswith(item.path + ".")]
        if parents:
            ctx.problems.append(
                ctx.problem_at_key(
                    at,
                    f"'{ref}' holds nested fields: name the ones to mask "
                    f"({', '.join(f'{spec.key}.{p}' for p in parents)})",
                )
            )
            continue
        problem = unfit(masking, item)
        if problem is not None:
            where = (*at, "value") if masking.strategy == "fixed" else (*at, "strategy")
            ctx.error(where, f"{ref}: {problem} (fides_meta.data_type)")

    _check_exemptions(ctx, specs)
    if "erasure" in ctx.data:
        _check_protected(ctx, specs)
    _check_flags(ctx, specs)


def _related(category: str, root: str) -> bool:
    return category == root or category.startswith(root + ".") or root.startswith(category + ".")


def _check_masking(ctx: RuleContext, at: PathKey, masking: Masking) -> bool:
    """Report settings that do not fit the strategy; whether it fits."""
    fits = True
    if masking.strategy == "fixed" and masking.value is None:
        ctx.error(
            (*at, "strategy"),
            "the fixed strategy needs a value: write {strategy: fixed, value: ...} "
            "(to clear the field, use null)",
        )
        fits = False
    if masking.strategy != "fixed" and masking.value is not None:
        ctx.error((*at, "value"), f"value is only for the fixed strategy, not {masking.strategy}")
        fits = False
    if masking.strategy != "random_string" and masking.length is not None:
        ctx.error(
            (*at, "length"),
            f"length is only for the random_string strategy, not {masking.strategy}",
        )
        fits = False
    return fits


def _collection(
    ctx: RuleContext, at: PathKey, ref: str, specs: Specs, *, at_key: bool = False
) -> tuple[CollectionSpec, str] | None:
    """The collection a dotted reference starts with, and the rest; reports a wrong name."""
    for dataset in sorted(specs, key=len, reverse=True):
        if not ref.startswith(dataset + "."):
            continue
        rest = ref[len(dataset) + 1 :]
        for name in sorted(specs[dataset], key=len, reverse=True):
            if rest == name or rest.startswith(name + "."):
                return specs[dataset][name], rest[len(name) + 1 :]
        wanted = rest.split(".", 1)[0]
        message = f"dataset '{dataset}' has no collection '{wanted}'"
        _report(ctx, at, message + _hint(wanted, list(specs[dataset])), at_key=at_key)
        return None
    known = ", ".join(specs) or "none declared"
    _report(ctx, at, f"'{ref}' names no declared dataset (datasets: {known})", at_key=at_key)
    return None


def _field(
    ctx: RuleContext, at: PathKey, ref: str, specs: Specs, *, at_key: bool = False
) -> tuple[CollectionSpec, FieldSpec] | None:
    found = _collection(ctx, at, ref, specs, at_key=at_key)
    if found is None:
        return None
    spec, path = found
    for item in spec.fields:
        if item.path == path:
            return spec, item
    paths = [f.path for f in spec.fields]
    message = f"collection '{spec.key}' has no field '{path}'" + _hint(path, paths)
    _report(ctx, at, message, at_key=at_key)
    return None


def _hint(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _report(ctx: RuleContext, at: PathKey, message: str, *, at_key: bool) -> None:
    if at_key:
        ctx.problems.append(ctx.problem_at_key(at, message))
    else:
        ctx.error(at, message)


def _check_exemptions(ctx: RuleContext, specs: Specs) -> None:
    rules = {r.key for r in ctx.document.retention}
    first: dict[str, int] = {}
    for i, exemption in enumerate(ctx.document.erasure.exemptions):
        at: PathKey = ("erasure", "exemptions", i)
        if exemption.retention not in rules:
            ctx.error(
                (*at, "retention"),
                f"exemption names unknown retention rule '{exemption.retention}': data is kept "
                "under a rule declared in retention",
            )
        if exemption.collection in first:
            where = ctx.positions.locate(("erasure", "exemptions", first[exemption.collection]))
            ctx.error(
                (*at, "collection"),
                f"collection '{exemption.collection}' already has an exemption at {where}",
            )
        first.setdefault(exemption.collection, i)
        found = _collection(ctx, (*at, "collection"), exemption.collection, specs)
        if found is None:
            continue
        spec, rest = found
        if rest:
            ctx.error(
                (*at, "collection"),
                f"'{exemption.collection}' is a field, not a collection: name the collection "
                f"and list the fields kept under keep",
            )
            continue
        paths = [f.path for f in spec.fields]
        for j, path in enumerate(exemption.keep):
            if path not in paths:
                ctx.error(
                    (*at, "keep", j),
                    f"collection '{spec.key}' has no field '{path}'" + _hint(path, paths),
                )


def _check_protected(ctx: RuleContext, specs: Specs) -> None:
    erasure = ctx.document.erasure
    collections = [spec for named in specs.values() for spec in named.values()]
    referenced = referenced_fields(collections)
    for spec in collections:
        decision = decide(spec, erasure=erasure, referenced=referenced.get(spec.key, frozenset()))
        if decision.delete:
            continue
        for field in decision.fields:
            if field.protected is None or (field.field.read_only and field.source != Source.FIELD):
                continue
            if field.source is Source.DATASET:
                continue  # the dataset checks warn about their own overrides
            if field.source is Source.FIELD:
                at: PathKey = ("erasure", "fields", field.rule)
            elif field.source is Source.CATEGORY:
                at = ("erasure", "categories", field.rule)
            else:
                at = ("erasure", "default_strategy")
            ctx.error(
                at,
                f"{spec.key}.{field.field.path} is {field.protected}, which no strategy may "
                "mask: keep it (an exemption's keep) or delete its row (delete_row)",
            )


def _check_flags(ctx: RuleContext, specs: Specs) -> None:
    collections = [spec for named in specs.values() for spec in named.values()]
    referenced = referenced_fields(collections)
    first: dict[tuple[str, str], int] = {}
    for i, flag in enumerate(ctx.document.restriction.flags):
        at: PathKey = ("restriction", "flags", i)
        if (flag.field, flag.marks) in first:
            where = ctx.positions.locate(("restriction", "flags", first[flag.field, flag.marks]))
            ctx.error(
                (*at, "field"), f"restriction flag '{flag.field}' is already declared at {where}"
            )
        first.setdefault((flag.field, flag.marks), i)
        found = _field(ctx, (*at, "field"), flag.field, specs)
        if found is None:
            continue
        spec, item = found
        protected = protection(item, referenced.get(spec.key, frozenset()))
        if protected is not None:
            ctx.error(
                (*at, "field"),
                f"{flag.field} is {protected}: a restriction flag must be a field OpenDPO may set",
            )
            continue
        values: Mapping[str, Any] = {"restricted": flag.restricted, "lifted": flag.lifted}
        for name, value in values.items():
            problem = unfit(Masking(strategy="fixed", value=value), item)
            if problem is not None:
                ctx.error((*at, name), f"{flag.field}: {problem} (fides_meta.data_type)")
