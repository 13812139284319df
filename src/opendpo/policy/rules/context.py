"""What every rule needs: the document, where things were written, and a place to report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opendpo.policy.errors import PolicyProblem
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.source import PathKey, Positions
from opendpo.policy.taxonomy import Vocabulary


@dataclass
class RuleContext:
    document: PolicyDocument
    positions: Positions
    vocabulary: Vocabulary
    data: Mapping[str, Any]  # the merged YAML as written, before the schema reshaped it
    problems: list[PolicyProblem] = field(default_factory=list)

    def error(self, path: PathKey, message: str) -> None:
        self.problems.append(PolicyProblem(message, self.positions.locate(path)))

    def problem_at_key(self, path: PathKey, message: str) -> PolicyProblem:
        """An error pointing at the key itself (for keys that should not be there)."""
        return PolicyProblem(message, self.positions.locate(path, at_key=True))

    def warning(self, path: PathKey, message: str) -> None:
        self.problems.append(PolicyProblem(message, self.positions.locate(path), "warning"))

    def check_known(
        self, path: PathKey, values: list[str], known: set[str] | dict[str, str], what: str
    ) -> None:
        """Report each value in `values` (a list at `path`) that is not in `known`."""
        for index, value in enumerate(values):
            if value not in known:
                self.error((*path, index), f"unknown {what} '{value}'")

    def check_unique(self, section: str, keys: list[str], what: str) -> None:
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first:
                where = self.positions.locate((section, first[key]))
                self.error(
                    (section, index, "key"), f"{what} '{key}' is already declared at {where}"
                )
            else:
                first[key] = index

    def written_index(self, path: PathKey, name: str, fallback: int) -> int:
        """Where the item called `name` sits in the list at `path` as written.

        fideslang sorts collections and fields by name, so a model's index is not always
        the index in the file.
        """
        node: Any = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return fallback
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, Mapping) and item.get("name") == name:
                    return index
        return fallback
