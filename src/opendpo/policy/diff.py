"""What changes between two policies, entity by entity (purposes, recipients, systems ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ChangeKind = Literal["added", "removed", "changed"]

# List sections whose items are identified by a key, so a reordering is not a change.
IDENTIFIED_BY = {
    "data_subjects": "key",
    "purposes": "key",
    "systems": "key",
    "recipients": "key",
    "retention": "key",
    "dataset": "fides_key",
}


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    section: str
    key: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyDiff:
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes


def diff_documents(before: dict[str, Any] | None, after: dict[str, Any]) -> PolicyDiff:
    before = before or {}
    changes: list[Change] = []
    for section in sorted(set(before) | set(after)):
        old, new = before.get(section), after.get(section)
        if old == new:
            continue
        if section in IDENTIFIED_BY:
            changes.extend(_diff_list(section, old or [], new or [], IDENTIFIED_BY[section]))
        elif old is None:
            changes.append(Change("added", section, section))
        elif new is None:
            changes.append(Change("removed", section, section))
        else:
            changes.append(Change("changed", section, section, _changed_fields(old, new)))
    return PolicyDiff(changes)


def _diff_list(
    section: str, old: list[dict[str, Any]], new: list[dict[str, Any]], id_key: str
) -> list[Change]:
    before = {item[id_key]: item for item in old}
    after = {item[id_key]: item for item in new}
    changes = [Change("added", section, key) for key in after if key not in before]
    changes += [Change("removed", section, key) for key in before if key not in after]
    changes += [
        Change("changed", section, key, _changed_fields(before[key], after[key]))
        for key in after
        if key in before and before[key] != after[key]
    ]
    return changes


def _changed_fields(old: Any, new: Any, prefix: str = "") -> tuple[str, ...]:
    if isinstance(old, dict) and isinstance(new, dict):
        names: list[str] = []
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                names.extend(_changed_fields(old.get(key), new.get(key), f"{prefix}{key}."))
        return tuple(names)
    return (prefix.rstrip("."),) if prefix else ()
