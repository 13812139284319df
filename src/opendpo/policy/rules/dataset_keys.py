"""Fides datasets as strictly as the rest: fideslang ignores unknown keys, so a typo such as
`data_categores` would silently drop a field's categories. Check the YAML as written.

Datasets written for Fides load unchanged, so the keys Fides itself accepts are accepted
here: `fidesops_meta`, the older spelling of `fides_meta`, and the keys fideslang 2 removed
(`data_qualifier` …), which are reported as ignored rather than rejected.
"""

from __future__ import annotations

from typing import Any

from opendpo.policy.rules.context import RuleContext
from opendpo.policy.schema_keys import allowed_keys, display_path, unknown_key_message
from opendpo.policy.source import PathKey

OLD_META = "fidesops_meta"
# Keys of fideslang 1 datasets that fideslang 2 removed: Fides loads such files and ignores them.
RETIRED = {
    "data_qualifier": "data qualifiers were removed from fideslang",
    "data_qualifiers": "data qualifiers were removed from fideslang",
    "retention": "fideslang no longer holds retention on datasets: write it as a retention rule",
    "third_country_transfers": "fideslang no longer holds transfers on datasets: "
    "write them on the recipients",
    "joint_controller": "fideslang no longer holds joint controllers on datasets",
}


def check_dataset_keys(ctx: RuleContext) -> None:
    datasets = ctx.data.get("dataset", [])
    _walk(ctx, datasets, ("dataset",), ("dataset",))


def _walk(ctx: RuleContext, node: Any, path: PathKey, written: PathKey) -> None:
    """`path` is where the node sits in the schema, `written` where it sits in the YAML (they
    differ under `fidesops_meta`, read as `fides_meta`)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _walk(ctx, item, (*path, index), (*written, index))
    elif isinstance(node, dict):
        allowed = allowed_keys(path)
        for key, value in node.items():
            child, at = (*path, key), (*written, key)
            if allowed and key == OLD_META and "fides_meta" in allowed:
                if "fides_meta" in node:
                    # fideslang keeps only one of the two, silently: make the author choose.
                    ctx.problems.append(
                        ctx.problem_at_key(
                            at, "both fides_meta and fidesops_meta: merge them into fides_meta"
                        )
                    )
                else:
                    _walk(ctx, value, (*path, "fides_meta"), at)
            elif allowed and key not in allowed and key in RETIRED:
                ctx.warning(at, f"'{key}' is ignored: {RETIRED[key]}")
            elif allowed and key not in allowed:
                # Suggestions come from the schema; the place named is the one written.
                message = unknown_key_message(child).replace(
                    f" in {display_path(path)}", f" in {display_path(written)}", 1
                )
                message += "; the fideslang dataset format has no such key"
                ctx.problems.append(ctx.problem_at_key(at, message))
            elif allowed:
                _walk(ctx, value, child, at)
