"""Fides datasets as strictly as the rest: fideslang ignores unknown keys, so a typo such as
`data_categores` would silently drop a field's categories. Check the YAML as written."""

from __future__ import annotations

from typing import Any

from opendpo.policy.rules.context import RuleContext
from opendpo.policy.schema_keys import allowed_keys, unknown_key_message
from opendpo.policy.source import PathKey


def check_dataset_keys(ctx: RuleContext) -> None:
    _walk(ctx, ctx.data.get("dataset", []), ("dataset",))


def _walk(ctx: RuleContext, node: Any, path: PathKey) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _walk(ctx, item, (*path, index))
    elif isinstance(node, dict):
        allowed = allowed_keys(path)
        for key, value in node.items():
            child = (*path, key)
            if allowed and key not in allowed:
                message = (
                    f"{unknown_key_message(child)}; the fideslang dataset format has no such key"
                )
                ctx.problems.append(ctx.problem_at_key(child, message))
            elif allowed:
                _walk(ctx, value, child)
