"""The change phases: erase, rectify and restrict one dataset's rows, as they were found.

The changes are computed from the rows the find step stored, never from what the system
holds now, so a step retried after a crash computes exactly the same changes; connectors
compare before writing, so what was already done counts zero the second time. A dataset's
changes go to its system in one batch: one transaction on a SQL database, children deleted
before the rows they reference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.connectors.base import Change, ChangeAction, CollectionSpec, Row, get_path
from opendpo.errors import InvalidValue
from opendpo.execution.deletion_order import deletion_order
from opendpo.execution.graph import Traversal
from opendpo.execution.masking import (
    ErasurePlan,
    MaskContext,
    plan_erasure,
    plan_restriction,
    row_key,
)
from opendpo.execution.outcome import Heartbeat, Outcome
from opendpo.execution.planning import Phase
from opendpo.execution.records import RequestStep
from opendpo.execution.rowstore import FoundRows
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import StepStatus
from opendpo.execution.systems import bindings
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.records import Request


def check_corrections(corrections: Mapping[str, Any], traversal: Traversal) -> None:
    """Every key names a data category or a field some reachable collection holds."""
    fields = {
        f"{spec.key}.{item.path}" for spec in traversal.collections.values() for item in spec.fields
    }
    categories = {
        c
        for spec in traversal.collections.values()
        for item in spec.fields
        for c in item.data_categories
    }
    for key in corrections:
        if key not in fields and key not in categories:
            raise InvalidValue(
                f"corrections.{key}",
                "names neither a data category nor a field of a connected system's dataset",
            )


def rectify(
    collection: CollectionSpec, rows: Iterable[Row], corrections: Mapping[str, Any]
) -> list[Change]:
    """Set each corrected field (named by path, or by its exact data category) where it differs."""
    targets: dict[str, Any] = {}
    for item in collection.fields:
        if item.read_only or item.primary_key or item.references:
            continue
        named = f"{collection.key}.{item.path}"
        if named in corrections:
            targets[item.path] = corrections[named]
            continue
        for category in item.data_categories:
            if category in corrections:
                targets[item.path] = corrections[category]
                break
    if not targets:
        return []
    changes = []
    for row in rows:
        values = {p: v for p, v in targets.items() if get_path(row, p) != v}
        if values:
            changes.append(
                Change(collection, row_key(collection, row), ChangeAction.UPDATE, values)
            )
    return changes


def run(
    runtime: Runtime, session: Session, request: Request, step: RequestStep, heartbeat: Heartbeat
) -> Outcome:
    policy = runtime.policy(session)
    system = next(s for s in bindings(session=session, policy=policy) if s.key == step.system)
    found = session.scalar(
        select(RequestStep).where(
            RequestStep.request_id == request.id,
            RequestStep.phase == Phase.FIND.value,
            RequestStep.dataset == step.dataset,
        )
    )
    if found is None:  # the plan always pairs them; a missing one is a corrupted plan
        raise InvalidValue("plan", f"no find step for {step.dataset}")
    attempt = int(found.summary.get("attempt", found.attempts))
    found_id = found.id

    reader = FoundRows(
        session=session,
        session_factory=runtime.session_factory,
        steps=[(found_id, attempt, sum(found.summary.get("rows", {}).values()))],
    )

    def rows_of(collection: str) -> Iterable[Row]:
        return reader.rows(step_id=found_id, attempt=attempt, collection=collection)

    planned_changes = plan_changes(
        phase=Phase(step.phase),
        inputs=step.inputs or {},
        policy=policy,
        context=MaskContext.create(request_id=request.id, keyring=runtime.keyring),
        collections=[c for c in system.collections if c.dataset == step.dataset],
        counts=found.summary.get("rows", {}),
        rows_of=rows_of,
        everything=system.collections,
    )
    changes = planned_changes.changes
    heartbeat()
    connector = runtime.pool.get(system)
    applied = connector.apply(changes) if changes else None
    changed = dict(applied.changed) if applied is not None else {}
    total = sum(changed.values())
    verb = {"erase": "erased", "rectify": "corrected", "restrict": "restricted"}[step.phase]
    return Outcome(
        status=StepStatus.DONE,
        summary={
            "attempt": step.attempts,
            "changed": changed,
            "planned": planned_changes.planned(),
            "kept": planned_changes.kept,
            "lines": planned_changes.described[:200],
        },
        message=f"{verb}: {total} row{'s' if total != 1 else ''} changed in {system.name}"
        + (f" ({len(changes) - total} already done)" if len(changes) > total else ""),
    )


@dataclass
class PlannedChanges:
    """What a change step would send to its system, and (for an erasure) why, per collection."""

    changes: list[Change] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)  # collection → the exemption's reason
    described: list[str] = field(default_factory=list)
    erasures: list[ErasurePlan] = field(default_factory=list)

    def planned(self) -> dict[str, int]:
        return dict(Counter(c.collection.key for c in self.changes))


def plan_changes(
    *,
    phase: Phase,
    inputs: Mapping[str, Any],
    policy: PolicyDocument,
    context: MaskContext,
    collections: list[CollectionSpec],
    counts: Mapping[str, int],
    rows_of: Callable[[str], Iterable[Row]],
    everything: list[CollectionSpec],
) -> PlannedChanges:
    """The changes one dataset's found rows need, in the order they are sent (an erasure's
    children before their parents). `rows_of` gives a collection's rows as they were found;
    the real step reads them from the row store, the dry run from memory. Applies nothing."""
    referenced = _referenced(everything)
    planned = PlannedChanges()
    ordered = deletion_order(collections) if phase is Phase.ERASE else collections
    for collection in ordered:
        if not counts.get(collection.key):
            continue
        if phase is Phase.ERASE:
            plan = plan_erasure(
                collection,
                rows_of(collection.key),
                erasure=policy.erasure,
                context=context,
                referenced=referenced.get(collection.key, frozenset()),
            )
            planned.erasures.append(plan)
            planned.changes.extend(plan.changes)
            planned.described.extend(plan.describe())
            if not plan.deletes and plan.decision.reason:
                planned.kept[collection.key] = plan.decision.reason
        elif phase is Phase.RECTIFY:
            planned.changes.extend(
                rectify(collection, rows_of(collection.key), inputs.get("corrections", {}))
            )
        else:
            planned.changes.extend(
                plan_restriction(
                    collection,
                    rows_of(collection.key),
                    restriction=policy.restriction,
                    restrict=bool(inputs.get("restrict", True)),
                    marks=inputs.get("marks", "restriction"),
                )
            )
    return planned


def _referenced(collections: list[CollectionSpec]) -> dict[str, frozenset[str]]:
    from opendpo.execution.erasure_fields import referenced_fields

    return referenced_fields(collections)
