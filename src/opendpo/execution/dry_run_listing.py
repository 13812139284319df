"""How a dry run lists rows: each row's change in words, old values masked, and as JSON.

Every row's change goes to the dry run's listing (sealed spools, `SpooledRows`) as it is
worked out; a collection keeps the first `LISTED_ROWS` in memory for the console. The JSON
document is written from the listing a line per row, so a person with a million rows is
listed in full in bounded memory.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from opendpo.connectors.base import Change, ChangeAction, CollectionSpec, Row, get_path
from opendpo.execution.masking import ErasurePlan, canonical, row_key
from opendpo.execution.rowstore import json_ready
from opendpo.execution.spooled_rows import SpooledRows
from opendpo.policy.model.erasure import Masking
from opendpo.store.json_text import dumps

if TYPE_CHECKING:
    from opendpo.execution.dry_run import DryRun

# Rows of a collection held for the console; the listing holds them all.
LISTED_ROWS = 1_000
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class FieldChange:
    path: str
    strategy: str
    category: str
    old: str  # the value masked: its first letters and its shape
    new: str  # what is written instead, in words


@dataclass(frozen=True)
class RowChange:
    key: Mapping[str, Any]
    action: str  # "update", "delete", or "keep" (found, nothing to change)
    fields: tuple[FieldChange, ...] = ()


class CollectionListing:
    """One collection's rows as they are planned, batch by batch, each beside its change."""

    def __init__(self, spec: CollectionSpec, listing: SpooledRows) -> None:
        self._spec = spec
        self._listing = listing
        self.first: list[RowChange] = []
        self.actions: Counter[str] = Counter()
        # A row without a primary key is named by every field it has: its personal fields
        # are shown masked, as old values are (an identity, the request's own, is not).
        self._masked_keys = {
            f.path for f in spec.fields if f.personal and not f.primary_key and not f.identity
        }

    def add(self, plan: ErasurePlan, rows: Sequence[Row]) -> None:
        """The rows `plan` was made from, in the order found."""
        spec = self._spec
        masked = {d.field.path: d.masking for d in plan.decision.masked if d.masking is not None}
        # Rows without a primary key may share a key (identical rows): one change each.
        changed: dict[str, list[Change]] = {}
        for planned in plan.changes:
            changed.setdefault(canonical(planned.key), []).append(planned)
        for row in rows:
            key = row_key(spec, row)
            waiting = changed.get(canonical(key))
            change = waiting.pop(0) if waiting else None
            if change is None:
                listed = RowChange(key, "keep")
            elif change.action is ChangeAction.DELETE:
                listed = RowChange(key, "delete")
            else:
                fields = tuple(
                    _field_change(spec, path, masked[path], get_path(row, path), new)
                    for path, new in change.values.items()
                )
                listed = RowChange(key, "update", fields)
            if self._masked_keys.intersection(key):
                shown = {
                    k: masked_value(v) if k in self._masked_keys else v for k, v in key.items()
                }
                listed = RowChange(shown, listed.action, listed.fields)
            self.actions[listed.action] += 1
            if len(self.first) < LISTED_ROWS:
                self.first.append(listed)
            self._listing.add(spec.key, row_json(listed))


def _field_change(
    spec: CollectionSpec, path: str, masking: Masking, old: Any, new: Any
) -> FieldChange:
    return FieldChange(
        path=path,
        strategy=masking.strategy,
        category=_category(spec, path),
        old=masked_value(old),
        new=new_kind(masking, new),
    )


def _category(spec: CollectionSpec, path: str) -> str:
    """The field's category, else the nearest parent's (nested fields inherit theirs)."""
    while True:
        try:
            categories = spec.field(path).data_categories
        except KeyError:
            categories = ()
        if categories or "." not in path:
            return ", ".join(categories)
        path = path.rsplit(".", 1)[0]


def masked_value(value: Any) -> str:
    """Enough to recognise a value, never enough to read it: each word's first character."""
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"an object of {len(value)} field{'s' if len(value) != 1 else ''}"
    text = str(value)
    return _WORD.sub(lambda m: m.group(0)[0] + "*" * (len(m.group(0)) - 1), text)


def new_kind(masking: Masking, new: Any) -> str:
    """What the strategy writes, in words (the value itself only where it is fixed)."""
    if new is None:
        return "null"
    name = masking.strategy
    if name == "fixed":
        return f"the fixed value {canonical(new)!r}"
    if name == "hash":
        return "a SHA-256 hash"
    if name == "keyed_hash":
        return "a keyed hash (HMAC-SHA-256)"
    if name == "random_string":
        return f"a random string of {len(str(new))} characters"
    return name


def row_json(row: RowChange) -> dict[str, Any]:
    found: dict[str, Any] = {"key": json_ready(dict(row.key)), "action": row.action}
    if row.fields:
        found["fields"] = [
            {
                "field": f.path,
                "strategy": f.strategy,
                "category": f.category,
                "old": f.old,
                "new": f.new,
            }
            for f in row.fields
        ]
    return found


def write_json(preview: DryRun, out: TextIO) -> None:
    """The dry run as a JSON document (see `json_pieces`), written to `out`."""
    for piece in json_pieces(preview):
        out.write(piece)


def json_pieces(preview: DryRun) -> Iterator[str]:
    """The dry run as a JSON document, a piece at a time: per system, per collection, each
    row's change (a line each, read from the listing as it is written)."""

    def text(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    yield "{\n"
    yield f'  "request": {text(preview.reference)},\n'
    yield f'  "request_id": {text(preview.request_id)},\n'
    yield '  "dry_run": true,\n'
    yield f'  "totals": {text(preview.totals())},\n'
    yield '  "systems": {'
    systems: dict[str, list[Any]] = {}
    for item in preview.collections:  # grouped by system, in the order first seen
        systems.setdefault(item.system, []).append(item)
    for s, (system, items) in enumerate(systems.items()):
        yield ",\n" if s else "\n"
        yield f'    {text(system)}: {{"name": {text(items[0].system_name)}, "collections": {{'
        for c, item in enumerate(items):
            yield ",\n" if c else "\n"
            yield f"      {text(item.collection)}: {{\n"
            for name in ("found", "reason", "retention", "legal_reason"):
                yield f"        {text(name)}: {text(getattr(item, name))},\n"
            yield '        "rows": ['
            for r, row in enumerate(_rows(preview, item.collection)):
                yield f"{',' if r else ''}\n          {row}"
            yield "\n        ],\n"
            yield f'        "plan": {text(list(item.lines))}\n      }}'
        yield "\n    }}"
    yield "\n  },\n"
    yield f'  "by_person": {text(preview.by_person)}\n}}\n'


def _rows(preview: DryRun, collection: str) -> Iterator[str]:
    for row in preview.listing.rows(collection):
        yield dumps(row)


def as_json(preview: DryRun) -> dict[str, Any]:
    """The whole JSON document, parsed: for a dry run small enough to hold."""
    from io import StringIO

    out = StringIO()
    write_json(preview, out)
    loaded: dict[str, Any] = json.loads(out.getvalue())
    return loaded
