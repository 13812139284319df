"""The dry run of an erasure: exactly what would change, row by row, and nothing changed.

The same plan, the same find phase and the same change planning as the real run, with the
rows held in memory instead of the row store and the changes listed instead of applied: no
step is written (the request stays ready for `opendpo requests run`) and connectors are only
asked to find. The request's own id seeds the masking, so random strings and hashes are the
ones the real run then writes. Old values are never shown in full: a masked form and the
field's data category say what goes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from opendpo.connectors.base import Change, ChangeAction, CollectionSpec, Row, get_path
from opendpo.errors import InvalidValue
from opendpo.execution.changing import PlannedChanges, change_batches
from opendpo.execution.engine import STARTABLE, CannotStart, verified_identities
from opendpo.execution.finding import find_dataset, identity_values
from opendpo.execution.masking import ErasurePlan, MaskContext, canonical, row_key
from opendpo.execution.planning import Phase, make_plan
from opendpo.execution.rowstore import json_ready
from opendpo.execution.runtime import Runtime
from opendpo.execution.systems import SystemBinding, bindings
from opendpo.policy.model.erasure import Masking
from opendpo.rights.kinds import RequestKind, RequestStatus
from opendpo.rights.records import Request
from opendpo.rights.timeline import add_event
from opendpo.security.audit import Actor

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


@dataclass(frozen=True)
class CollectionPreview:
    system: str
    system_name: str
    collection: str
    found: int
    reason: str  # why the rows are deleted, masked or kept
    retention: str | None  # the retention rule of an exemption
    legal_reason: str | None  # the exemption's reason (Art 17(3))
    rows: tuple[RowChange, ...]
    lines: tuple[str, ...]  # the plan in plain words, as the erasure step records it

    @property
    def dataset(self) -> str:
        return self.collection.split(".", 1)[0]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


@dataclass
class DryRun:
    request_id: str
    reference: str
    collections: list[CollectionPreview] = field(default_factory=list)
    # Per dataset, the changes the erase step would send, in order: what the real run applies.
    changes: dict[str, list[Change]] = field(default_factory=dict)
    # Systems a person handles (a manual task, a processor by email): not previewed.
    by_person: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {
            action: sum(c.count(action) for c in self.collections)
            for action in ("update", "delete", "keep")
        }


class _Rows:
    """Found rows held in memory, as the row store would give them back."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Row]] = {}

    def add(self, collection: str, row: Row) -> None:
        self.rows.setdefault(collection, []).append(json_ready(row))


def dry_run(*, runtime: Runtime, session: Session, request: Request) -> DryRun:
    """What erasing the request's verified identities would change, everywhere; nothing is
    written to any system or to the request's plan."""
    if RequestKind(request.kind) is not RequestKind.ERASURE:
        raise InvalidValue("kind", "a dry run previews an erasure; this request is not one")
    if RequestStatus(request.status) not in STARTABLE:
        raise CannotStart(
            f"request {request.reference} is {request.status.replace('_', ' ')}: only a "
            "verified request can be previewed"
        )
    identities = verified_identities(request)
    if not identities:
        raise CannotStart(f"request {request.reference} has no verified identity")
    policy = runtime.policy(session)
    systems = bindings(session=session, policy=policy)
    plan = make_plan(
        kind=RequestKind.ERASURE,
        identity_kinds=[kind for kind, _ in identities],
        systems=systems,
    )
    by_key = {s.key: s for s in systems}
    result = DryRun(request.id, request.reference)
    found = _Rows()
    counts: dict[str, int] = {}
    outputs: dict[int, dict[str, Any]] = {}
    values = identity_values(identities)
    for step in plan.steps:
        if step.phase is not Phase.FIND:
            continue
        upstream: dict[str, Any] = {}
        for seq in step.depends_on:
            upstream.update(outputs.get(seq, {}))
        done = find_dataset(
            connector=runtime.pool.get(by_key[str(step.system)]),
            traversal=plan.traversal,
            dataset=str(step.dataset),
            identities=values,
            upstream=upstream,
            sink=found,
            heartbeat=lambda: None,
        )
        counts.update(done.counts)
        outputs[step.seq] = json_ready(done.outputs)
    context = MaskContext.create(request_id=request.id, keyring=runtime.keyring)
    for step in plan.steps:
        if step.phase is Phase.PERSON:
            result.by_person.append(by_key[str(step.system)].name)
        if step.phase is not Phase.ERASE:
            continue
        system = by_key[str(step.system)]
        planned = PlannedChanges.of(
            change_batches(
                phase=Phase.ERASE,
                inputs=step.inputs or {},
                policy=policy,
                context=context,
                collections=[c for c in system.collections if c.dataset == step.dataset],
                counts=counts,
                rows_of=lambda key: found.rows.get(key, []),
                everything=system.collections,
            )
        )
        result.changes[str(step.dataset)] = planned.changes
        for erasure in planned.erasures:
            rows = found.rows.get(erasure.collection.key, [])
            result.collections.append(_preview(system, erasure, rows))
    return result


def record_dry_run(
    *, session: Session, request: Request, preview: DryRun, actor: Actor, now: dt.datetime
) -> None:
    """A line on the request's timeline: who looked, and how much would change."""
    totals = preview.totals()
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="dry_run",
        message=(
            f"Dry run: {totals['delete']} row(s) would be deleted, {totals['update']} masked "
            f"and {totals['keep']} kept as they are; nothing was changed"
        ),
        data=totals,
        now=now,
    )


def _preview(system: SystemBinding, plan: ErasurePlan, rows: Sequence[Row]) -> CollectionPreview:
    spec = plan.collection
    decision = plan.decision
    masked = {d.field.path: d.masking for d in decision.masked if d.masking is not None}
    # Rows without a primary key may share a key (identical rows): one change each.
    changed: dict[str, list[Change]] = {}
    for planned in plan.changes:
        changed.setdefault(canonical(planned.key), []).append(planned)
    listed: list[RowChange] = []
    for row in rows:
        key = row_key(spec, row)
        waiting = changed.get(canonical(key))
        change = waiting.pop(0) if waiting else None
        if change is None:
            listed.append(RowChange(key, "keep"))
        elif change.action is ChangeAction.DELETE:
            listed.append(RowChange(key, "delete"))
        else:
            fields = tuple(
                _field_change(spec, path, masked[path], get_path(row, path), new)
                for path, new in change.values.items()
            )
            listed.append(RowChange(key, "update", fields))
    exemption = decision.exemption
    return CollectionPreview(
        system=system.key,
        system_name=system.name,
        collection=spec.key,
        found=plan.rows,
        reason=decision.reason,
        retention=exemption.retention if exemption is not None else None,
        legal_reason=exemption.reason if exemption is not None else None,
        rows=tuple(listed),
        lines=tuple(plan.describe()),
    )


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


def as_json(preview: DryRun) -> dict[str, Any]:
    """The dry run as a JSON document: per system, per collection, each row's change."""
    systems: dict[str, Any] = {}
    for item in preview.collections:
        system = systems.setdefault(item.system, {"name": item.system_name, "collections": {}})
        system["collections"][item.collection] = {
            "found": item.found,
            "reason": item.reason,
            "retention": item.retention,
            "legal_reason": item.legal_reason,
            "rows": [_row_json(row) for row in item.rows],
            "plan": list(item.lines),
        }
    return {
        "request": preview.reference,
        "request_id": preview.request_id,
        "dry_run": True,
        "totals": preview.totals(),
        "systems": systems,
        "by_person": preview.by_person,
    }


def _row_json(row: RowChange) -> dict[str, Any]:
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
