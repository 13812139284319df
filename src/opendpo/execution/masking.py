"""Erasure and restriction as changes: what each strategy writes, field by field, row by row.

The engine finds every row reachable from the person's identities, then asks here what an
erasure changes in them. `decide` reads the policy's erasure section against one collection
(which fields are covered, by which rule, what is kept and why); `plan_erasure` applies that
to the rows found. Values come from the rows as they were found, never from what the system
holds now, and every strategy is deterministic for (request, collection, row, field): a step
retried after a crash makes exactly the changes it made the first time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from opendpo.connectors.base import (
    Change,
    ChangeAction,
    CollectionSpec,
    FieldSpec,
    Row,
    get_path,
)
from opendpo.errors import DomainError
from opendpo.execution.deletion_order import deletion_order, ordered_for_deletion
from opendpo.execution.erasure_fields import (
    CollectionDecision,
    FieldDecision,
    decide,
    referenced_fields,
    unfit,
)
from opendpo.policy.model.erasure import Erasure, FlagMarks, Masking, Restriction
from opendpo.security.keyring import Keyring

__all__ = [
    "ErasurePlan",
    "FieldSummary",
    "MaskContext",
    "RestrictionProblem",
    "decide",
    "deletion_order",
    "mask",
    "ordered_for_deletion",
    "plan_erasure",
    "plan_restriction",
    "referenced_fields",
]

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Bytes at or above this would make some characters likelier than others.
_UNBIASED = 256 - 256 % len(ALPHABET)


class RestrictionProblem(DomainError):
    code = "restriction_flag"


@dataclass(frozen=True)
class MaskContext:
    """The request's keys, and (inside a plan) the row being masked."""

    request_id: str
    erasure_key: bytes = field(repr=False)
    random_key: bytes = field(repr=False)
    collection: str = ""
    row_key: str = ""  # the row's key as canonical JSON

    @classmethod
    def create(cls, *, request_id: str, keyring: Keyring) -> MaskContext:
        return cls(
            request_id=request_id,
            erasure_key=keyring.derived_key("erasure"),
            random_key=keyring.derived_key("erasure-random"),
        )

    def for_row(self, collection: str, key: Mapping[str, Any]) -> MaskContext:
        return replace(self, collection=collection, row_key=canonical(key))


def canonical(value: Any) -> str:
    """One text per value: strings as they are, anything else as sorted, compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def mask(strategy: Masking, value: Any, *, field: FieldSpec, context: MaskContext) -> Any:
    """The value the strategy writes in place of `value` (None where the field's data_type
    cannot take what it would write)."""
    name = strategy.strategy
    if name == "delete_row":
        raise ValueError("delete_row removes the whole row: it writes no value")
    if name == "null" or unfit(strategy, field) is not None:
        return None
    if name == "fixed":
        return _fit(strategy.value, field)
    if value is None:
        return None
    text = canonical(value).encode()
    if name == "hash":
        return _fit(hashlib.sha256(text).hexdigest(), field)
    if name == "keyed_hash":
        return _fit(hmac.new(context.erasure_key, text, hashlib.sha256).hexdigest(), field)
    length = strategy.length or len(canonical(value))
    return _random_string(context, field.path, min(length, field.length or length))


def _fit(value: Any, field: FieldSpec) -> Any:
    """A string cut to the field's declared length (fides_meta.length): a 64-character hash
    must not overflow a varchar(40) column and fail the whole erasure."""
    if isinstance(value, str) and field.length is not None:
        return value[: field.length]
    return value


def _random_string(context: MaskContext, path: str, length: int) -> str:
    seed = "\x00".join((context.request_id, context.collection, context.row_key, path)).encode()
    chars: list[str] = []
    counter = 0
    while len(chars) < length:
        block = hmac.new(
            context.random_key, seed + counter.to_bytes(4, "big"), hashlib.sha256
        ).digest()
        chars.extend(ALPHABET[b % len(ALPHABET)] for b in block if b < _UNBIASED)
        counter += 1
    return "".join(chars[:length])


def row_key(spec: CollectionSpec, row: Row) -> dict[str, Any]:
    """What names the row in a change: its primary key, else every top-level field read."""
    names = spec.primary_key or tuple(name for name in spec.top_level if name in row)
    return {name: get_path(row, name) for name in names}


@dataclass(frozen=True)
class FieldSummary:
    """One line of the dry run: what happens to a field, in how many rows, and why."""

    path: str
    action: str  # the strategy written, or "kept"
    rows: int  # rows whose value changes (0 for a kept field)
    why: str


@dataclass(frozen=True)
class ErasurePlan:
    """The changes an erasure makes to rows of one collection, and the reasons for the dry run.

    A collection with many rows may be planned batch by batch and the plans `merged`.
    """

    decision: CollectionDecision
    rows: int
    changes: list[Change]
    changed: Mapping[str, int]  # rows changed, per field path

    @property
    def collection(self) -> CollectionSpec:
        return self.decision.collection

    @property
    def deletes(self) -> bool:
        return self.decision.delete

    def merged(self, other: ErasurePlan) -> ErasurePlan:
        if other.decision != self.decision:
            raise ValueError("only plans of the same collection and decision can be merged")
        changed = Counter(self.changed)
        changed.update(other.changed)
        return ErasurePlan(
            self.decision, self.rows + other.rows, [*self.changes, *other.changes], dict(changed)
        )

    def fields(self) -> list[FieldSummary]:
        return [
            FieldSummary(
                d.field.path,
                d.masking.strategy if d.masking is not None else "kept",
                self.changed.get(d.field.path, 0),
                d.why,
            )
            for d in self.decision.fields
        ]

    def describe(self) -> list[str]:
        """The dry run in plain words: the collection, then one line per field."""
        key = self.collection.key
        rows = f"{self.rows} row{'' if self.rows == 1 else 's'}"
        decision = self.decision
        if decision.delete:
            return [f"{key}: {rows} deleted: {decision.reason}"]
        if decision.exemption is not None:
            lines = [f"{key}: {rows} kept {decision.reason}"]
        elif decision.fields:
            lines = [f"{key}: {rows} kept, {decision.reason}"]
        else:
            return [f"{key}: {rows} left alone: {decision.reason}"]
        for summary in self.fields():
            if summary.action == "kept":
                lines.append(f"  {summary.path}: kept ({summary.why})")
            else:
                lines.append(
                    f"  {summary.path}: {summary.action} in {summary.rows} of {rows} "
                    f"({summary.why})"
                )
        return lines


def plan_erasure(
    collection: CollectionSpec,
    rows: Iterable[Row],
    *,
    erasure: Erasure,
    context: MaskContext,
    referenced: Collection[str] = frozenset(),
) -> ErasurePlan:
    """The changes erasing the person makes to `rows` (as they were found) of `collection`.

    A field already empty, or already holding what its strategy writes, needs no change; a
    row needing none gets no change. Changes setting the same fields come together, so that
    a connector can send them as one statement. `referenced`: see `decide`.
    """
    decision = decide(collection, erasure=erasure, referenced=referenced)
    masked = decision.masked
    per_row = any(d.masking is not None and d.masking.strategy == "random_string" for d in masked)
    changes: list[Change] = []
    changed: Counter[str] = Counter()
    count = 0
    for row in rows:
        count += 1
        if not decision.touched:
            continue
        key = row_key(collection, row)
        if decision.delete:
            changes.append(Change(collection, key, ChangeAction.DELETE))
            continue
        # Only random strings depend on the row's key: skip encoding it where none is written.
        row_context = context.for_row(collection.key, key) if per_row else context
        values = _masked_values(masked, row, row_context)
        if values:
            changed.update(values.keys())
            changes.append(Change(collection, key, ChangeAction.UPDATE, values))
    changes.sort(key=lambda change: tuple(change.values))
    return ErasurePlan(decision, count, changes, dict(changed))


def _masked_values(
    masked: Sequence[FieldDecision], row: Row, context: MaskContext
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for decision in masked:
        original = get_path(row, decision.field.path)
        if original is None or decision.masking is None:
            continue
        new = mask(decision.masking, original, field=decision.field, context=context)
        if not _same(new, original):
            values[decision.field.path] = new
    return values


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python, but a flag set to 1 where true was held is still a change.
    return type(a) is type(b) and bool(a == b)


def plan_restriction(
    collection: CollectionSpec,
    rows: Iterable[Row],
    *,
    restriction: Restriction,
    restrict: bool,
    marks: FlagMarks = "restriction",
) -> list[Change]:
    """Changes setting the collection's restriction (or objection) flags, or lifting them;
    none where the collection holds no such flag, or a row already holds the value."""
    flags: dict[str, Any] = {}
    for flag in restriction.flags_in(collection.key, marks):
        path = flag.field[len(collection.key) + 1 :]
        if not any(f.path == path for f in collection.fields):
            raise RestrictionProblem(
                f"restriction flag {flag.field} is not a field of {collection.key}: add it to "
                "the dataset, or correct restriction.flags"
            )
        flags[path] = flag.restricted if restrict else flag.lifted
    if not flags:
        return []
    changes = []
    for row in rows:
        values = {
            path: value for path, value in flags.items() if not _same(get_path(row, path), value)
        }
        if values:
            changes.append(
                Change(collection, row_key(collection, row), ChangeAction.UPDATE, values)
            )
    return changes
