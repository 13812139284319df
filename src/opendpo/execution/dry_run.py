"""The dry run of an erasure: exactly what would change, row by row, and nothing changed.

The same plan, the same find phase and the same change planning as the real run (batch by
batch past `ONE_BATCH_ROWS` found rows, as the real run), with the rows kept in sealed spools
instead of the row store and the changes listed instead of applied: no step is written (the
request stays ready for `opendpo requests run`) and connectors are only asked to find. The
request's own id seeds the masking, so random strings and hashes are the ones the real run
then writes. Old values are never shown in full: a masked form and the field's data category
say what goes (`dry_run_listing`). Memory stays bounded whatever the person's rows: every
row's change is listed to a spool, and only the first rows of each collection are held.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from opendpo.connectors.base import Change
from opendpo.errors import InvalidValue
from opendpo.execution.changing import (
    BATCH_ROWS,
    ONE_BATCH_ROWS,
    PlannedChanges,
    change_batches,
)
from opendpo.execution.dry_run_listing import (
    CollectionListing,
    FieldChange,
    RowChange,
    as_json,
    json_pieces,
    masked_value,
    write_json,
)
from opendpo.execution.engine import STARTABLE, CannotStart, verified_identities
from opendpo.execution.finding import find_dataset, identity_values
from opendpo.execution.masking import MaskContext
from opendpo.execution.planning import Phase, Plan, PlannedStep, make_plan
from opendpo.execution.rowstore import json_ready
from opendpo.execution.runtime import Runtime
from opendpo.execution.spooled_rows import SpooledRows
from opendpo.execution.systems import SystemBinding, bindings
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.kinds import RequestKind, RequestStatus
from opendpo.rights.records import Request
from opendpo.rights.timeline import add_event
from opendpo.security.audit import Actor


@dataclass(frozen=True)
class CollectionPreview:
    system: str
    system_name: str
    collection: str
    found: int
    reason: str  # why the rows are deleted, masked or kept
    retention: str | None  # the retention rule of an exemption
    legal_reason: str | None  # the exemption's reason (Art 17(3))
    rows: tuple[RowChange, ...]  # the first LISTED_ROWS; every row is in DryRun.listing
    lines: tuple[str, ...]  # the plan in plain words, as the erasure step records it
    actions: Mapping[str, int] = field(default_factory=dict)  # rows per action, all of them

    @property
    def dataset(self) -> str:
        return self.collection.split(".", 1)[0]

    def count(self, action: str) -> int:
        return self.actions.get(action, 0)

    @property
    def unlisted(self) -> int:
        """Rows listed in the JSON document but not held here."""
        return sum(self.actions.values()) - len(self.rows)


@dataclass
class DryRun:
    """A dry run's outcome: close it (or use it as a context manager) to drop its listing."""

    request_id: str
    reference: str
    listing: SpooledRows = field(default_factory=SpooledRows, repr=False)
    collections: list[CollectionPreview] = field(default_factory=list)
    # Per dataset, the changes the erase step would send, in order: what the real run applies.
    # Held only for a dataset of at most ONE_BATCH_ROWS found rows (as the real run holds them).
    changes: dict[str, list[Change]] = field(default_factory=dict)
    # Systems a person handles (a manual task, a processor by email): not previewed.
    by_person: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {
            action: sum(c.count(action) for c in self.collections)
            for action in ("update", "delete", "keep")
        }

    def close(self) -> None:
        self.listing.close()

    def __enter__(self) -> DryRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    try:
        with SpooledRows() as found:
            _find_all(runtime, plan, by_key, identities, found)
            context = MaskContext.create(request_id=request.id, keyring=runtime.keyring)
            for step in plan.steps:
                if step.phase is Phase.PERSON:
                    result.by_person.append(by_key[str(step.system)].name)
                if step.phase is Phase.ERASE:
                    _preview_step(result, step, by_key[str(step.system)], policy, context, found)
    except BaseException:
        result.close()
        raise
    return result


def _find_all(
    runtime: Runtime,
    plan: Plan,
    by_key: Mapping[str, SystemBinding],
    identities: list[tuple[str, str]],
    found: SpooledRows,
) -> None:
    """Every find step of the plan, in order, into `found` (which counts them)."""
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
        outputs[step.seq] = json_ready(done.outputs)


def _preview_step(
    result: DryRun,
    step: PlannedStep,
    system: SystemBinding,
    policy: PolicyDocument,
    context: MaskContext,
    found: SpooledRows,
) -> None:
    """The erase step's changes, planned as the real step plans them, listed row by row."""
    collections = [c for c in system.collections if c.dataset == step.dataset]
    # As the real step: a dataset's changes at once up to ONE_BATCH_ROWS found rows (then
    # its rows are held here too), else batch by batch.
    held = sum(found.counts.get(c.key, 0) for c in collections) <= ONE_BATCH_ROWS
    planned = PlannedChanges()
    listed: dict[str, CollectionListing] = {}
    for batch in change_batches(
        phase=Phase.ERASE,
        inputs=step.inputs or {},
        policy=policy,
        context=context,
        collections=collections,
        counts=found.counts,
        rows_of=(lambda key: list(found.rows(key))) if held else found.rows,
        everything=system.collections,
        batch_rows=None if held else BATCH_ROWS,
    ):
        planned.add(batch, keep=held)
        if batch.erasure is not None and batch.rows is not None:
            key = batch.collection.key
            if key not in listed:
                listed[key] = CollectionListing(batch.collection, result.listing)
            listed[key].add(batch.erasure, batch.rows)
    if held:
        result.changes[str(step.dataset)] = planned.changes
    for erasure in planned.erasures:
        listing = listed.get(erasure.collection.key)
        decision = erasure.decision
        exemption = decision.exemption
        result.collections.append(
            CollectionPreview(
                system=system.key,
                system_name=system.name,
                collection=erasure.collection.key,
                found=erasure.rows,
                reason=decision.reason,
                retention=exemption.retention if exemption is not None else None,
                legal_reason=exemption.reason if exemption is not None else None,
                rows=tuple(listing.first) if listing is not None else (),
                lines=tuple(erasure.describe()),
                actions=dict(listing.actions) if listing is not None else {},
            )
        )


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


__all__ = [
    "CollectionPreview",
    "DryRun",
    "FieldChange",
    "RowChange",
    "as_json",
    "dry_run",
    "json_pieces",
    "masked_value",
    "record_dry_run",
    "write_json",
]
