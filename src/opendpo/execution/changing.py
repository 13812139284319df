"""The change phases: erase, rectify and restrict one dataset's rows, as they were found.

The changes are computed from the rows the find step stored, never from what the system
holds now, so a step retried after a crash computes exactly the same changes; connectors
compare before writing, so what was already done counts zero the second time. A dataset's
changes go to its system in one batch: one transaction on a SQL database, children deleted
before the rows they reference.

A dataset with more than ONE_BATCH_ROWS found rows (a person with a million log lines) would
hold every change in memory for that one batch. Its changes are computed and sent BATCH_ROWS
rows at a time instead, collection by collection in the same order (children first), still
in the one transaction (`Connector.apply_batches`): memory stays bounded, and a step stopped
part way changed nothing and is simply run again. Systems without transactions (an HTTP
API, Redis) take the batches one by one; there the batches already sent count zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
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

# Found rows whose changes go to a system as one batch (one transaction); beyond, they go
# BATCH_ROWS rows at a time.
ONE_BATCH_ROWS = 50_000
BATCH_ROWS = 5_000


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

    found_rows = sum(found.summary.get("rows", {}).values())
    batches = change_batches(
        phase=Phase(step.phase),
        inputs=step.inputs or {},
        policy=policy,
        context=MaskContext.create(request_id=request.id, keyring=runtime.keyring),
        collections=[c for c in system.collections if c.dataset == step.dataset],
        counts=found.summary.get("rows", {}),
        rows_of=rows_of,
        everything=system.collections,
        batch_rows=None if found_rows <= ONE_BATCH_ROWS else BATCH_ROWS,
    )
    connector = runtime.pool.get(system)
    planned_changes = PlannedChanges()
    changed: Counter[str] = Counter()
    if found_rows <= ONE_BATCH_ROWS:
        planned_changes = PlannedChanges.of(batches)
        heartbeat()
        if planned_changes.changes:
            changed.update(connector.apply(planned_changes.changes).changed)
    else:
        # Worked out and sent a batch at a time, in one transaction where the system has
        # them: a step stopped part way (its lease lost between batches) changed nothing.
        def sending() -> Iterator[list[Change]]:
            for batch in batches:
                planned_changes.add(batch, keep=False)
                if batch.changes:
                    yield batch.changes
                heartbeat()

        changed.update(connector.apply_batches(sending()).changed)
    total = sum(changed.values())
    verb = {"erase": "erased", "rectify": "corrected", "restrict": "restricted"}[step.phase]
    return Outcome(
        status=StepStatus.DONE,
        summary={
            "attempt": step.attempts,
            "changed": dict(changed),
            "planned": planned_changes.planned(),
            "kept": planned_changes.kept,
            "lines": planned_changes.described[:200],
        },
        message=f"{verb}: {total} row{'s' if total != 1 else ''} changed in {system.name}"
        + (
            f" ({planned_changes.total - total} already done)"
            if planned_changes.total > total
            else ""
        ),
    )


@dataclass
class PlannedChanges:
    """What a change step would send to its system, and (for an erasure) why, per collection.

    `changes` holds them all unless they were sent batch by batch (`keep=False` to `add`):
    then only the counts and the erasures' reasons are kept."""

    changes: list[Change] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)  # collection → the exemption's reason
    erasures: list[ErasurePlan] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, batches: Iterable[ChangeBatch]) -> PlannedChanges:
        """Every batch's changes, held together."""
        planned = cls()
        for batch in batches:
            planned.add(batch)
        return planned

    def add(self, batch: ChangeBatch, *, keep: bool = True) -> None:
        key = batch.collection.key
        if batch.changes:
            self.counts[key] += len(batch.changes)
        if keep:
            self.changes.extend(batch.changes)
        plan = batch.erasure
        if plan is None:
            return
        if not keep:
            plan = replace(plan, changes=[])
        if self.erasures and self.erasures[-1].collection.key == key:
            self.erasures[-1] = self.erasures[-1].merged(plan)
        else:
            self.erasures.append(plan)
        if not plan.deletes and plan.decision.reason:
            self.kept[key] = plan.decision.reason

    @property
    def described(self) -> list[str]:
        return [line for plan in self.erasures for line in plan.describe()]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def planned(self) -> dict[str, int]:
        return dict(self.counts)


@dataclass(frozen=True)
class ChangeBatch:
    collection: CollectionSpec
    changes: list[Change]
    erasure: ErasurePlan | None  # why, for an erasure
    # The found rows planned, where they were held as a sequence (batch by batch, or given
    # as one): the dry run lists them beside their changes.
    rows: Sequence[Row] | None = None


def change_batches(
    *,
    phase: Phase,
    inputs: Mapping[str, Any],
    policy: PolicyDocument,
    context: MaskContext,
    collections: list[CollectionSpec],
    counts: Mapping[str, int],
    rows_of: Callable[[str], Iterable[Row]],
    everything: list[CollectionSpec],
    batch_rows: int | None = None,
) -> Iterator[ChangeBatch]:
    """The changes one dataset's found rows need, in the order they are sent (an erasure's
    children before their parents), `batch_rows` found rows at a time (None: a collection's
    rows at once). `rows_of` gives a collection's rows as they were found; the real step
    reads them from the row store, the dry run from memory. Applies nothing."""
    referenced = _referenced(everything)
    ordered = deletion_order(collections) if phase is Phase.ERASE else collections
    for collection in ordered:
        if not counts.get(collection.key):
            continue
        found = rows_of(collection.key)
        for rows in [found] if batch_rows is None else _batched(found, batch_rows):
            if phase is Phase.ERASE:
                plan = plan_erasure(
                    collection,
                    rows,
                    erasure=policy.erasure,
                    context=context,
                    referenced=referenced.get(collection.key, frozenset()),
                )
                held = rows if isinstance(rows, Sequence) else None
                yield ChangeBatch(collection, plan.changes, plan, held)
            elif phase is Phase.RECTIFY:
                corrections = inputs.get("corrections", {})
                yield ChangeBatch(collection, rectify(collection, rows, corrections), None)
            else:
                restricted = plan_restriction(
                    collection,
                    rows,
                    restriction=policy.restriction,
                    restrict=bool(inputs.get("restrict", True)),
                    marks=inputs.get("marks", "restriction"),
                )
                yield ChangeBatch(collection, restricted, None)


def _batched(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    found = iter(rows)
    while batch := list(islice(found, size)):
        yield batch


def _referenced(collections: list[CollectionSpec]) -> dict[str, frozenset[str]]:
    from opendpo.execution.erasure_fields import referenced_fields

    return referenced_fields(collections)
