"""A verified request becomes a plan: a few durable steps, one per system and phase.

Reads come first, one step per dataset, in the order the dataset graph needs (a dataset fed
by another's references waits for it). Then the changes (erase, rectify, restrict), each
after every read, so no system is altered before all have been read; then one closing step
(package the copy, or write the erasure report and suppress the address). Systems reached
by a person (manual, or a processor by email) get one task each. A portability request
naming another controller gets a step sending the package there, after packaging. (The
finish step adds the notices to recipients itself, from what actually changed.)
One step per dataset, not per table: the engine's bookkeeping is a few writes per request,
whatever the table count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from opendpo.errors import DomainError
from opendpo.execution.graph import Traversal, traverse
from opendpo.execution.systems import SystemBinding
from opendpo.rights.kinds import RequestKind
from opendpo.subjects.identities import IdentityKind


class Phase(StrEnum):
    FIND = "find"
    ERASE = "erase"
    RECTIFY = "rectify"
    RESTRICT = "restrict"
    PERSON = "person"  # a manual task or a processor's answer by email
    # Telling one recipient of the change (Art 19): added by the finish step, closed by staff.
    NOTIFY = "notify"
    PACKAGE = "package"
    TRANSMIT = "transmit"  # the portable data sent to another controller (Art 20(2))
    FINISH = "finish"


# The identity names datasets use (fides_meta.identity) → the request's identity kinds.
IDENTITY_NAMES: dict[str, IdentityKind] = {
    "email": IdentityKind.EMAIL,
    "phone_number": IdentityKind.PHONE,
    "phone": IdentityKind.PHONE,
    "customer_id": IdentityKind.CUSTOMER_ID,
    "cookie_id": IdentityKind.COOKIE_ID,
    "visitor_id": IdentityKind.COOKIE_ID,
}

# What each kind of request does to the systems after reading them.
CHANGE_PHASE: dict[RequestKind, Phase | None] = {
    RequestKind.ACCESS: None,
    RequestKind.PORTABILITY: None,
    RequestKind.ERASURE: Phase.ERASE,
    RequestKind.RECTIFICATION: Phase.RECTIFY,
    RequestKind.RESTRICTION: Phase.RESTRICT,
    RequestKind.RESTRICTION_LIFT: Phase.RESTRICT,
    # Systems that hold a do-not-contact flag get it set; see execution.objection.
    RequestKind.OBJECTION: Phase.RESTRICT,
}
EXECUTABLE = frozenset(CHANGE_PHASE)


class NotExecutable(DomainError):
    code = "not_executable"


@dataclass
class PlannedStep:
    seq: int
    phase: Phase
    system: str | None = None
    dataset: str | None = None
    depends_on: list[int] = field(default_factory=list)
    inputs: dict[str, Any] | None = None


@dataclass
class Plan:
    steps: list[PlannedStep]
    traversal: Traversal


def identity_names(kinds: Sequence[str]) -> set[str]:
    """The dataset identity names a request with these identity kinds can seed."""
    return {name for name, kind in IDENTITY_NAMES.items() if kind.value in kinds}


def make_plan(
    *,
    kind: RequestKind,
    identity_kinds: Sequence[str],
    systems: Sequence[SystemBinding],
    details: dict[str, Any] | None = None,
) -> Plan:
    if kind not in EXECUTABLE:
        raise NotExecutable(
            f"a {kind.value.replace('_', ' ')} request is handled by staff, not run across systems"
        )
    automatic = [s for s in systems if s.automatic]
    by_dataset = {d.fides_key: s for s in automatic for d in s.datasets}
    traversal = traverse(
        [c for s in automatic for c in s.collections], identity_names(identity_kinds)
    )

    steps: list[PlannedStep] = []
    find_seq: dict[str, int] = {}
    for dataset in traversal.datasets:
        system = by_dataset[dataset]
        needs = [
            find_seq[d] for d in sorted(traversal.dataset_needs.get(dataset, ())) if d != dataset
        ]
        step = PlannedStep(len(steps) + 1, Phase.FIND, system.key, dataset, needs)
        steps.append(step)
        find_seq[dataset] = step.seq
    reads = list(find_seq.values())

    change = CHANGE_PHASE[kind]
    changes: list[int] = []
    if change is not None:
        inputs = _change_inputs(kind, details or {})
        for dataset in find_seq:
            step = PlannedStep(
                len(steps) + 1, change, by_dataset[dataset].key, dataset, list(reads), inputs
            )
            steps.append(step)
            changes.append(step.seq)

    people: list[int] = []
    for system in systems:
        if system.automatic:
            continue
        step = PlannedStep(
            len(steps) + 1,
            Phase.PERSON,
            system.key,
            None,
            [],
            {"kind": kind.value, "connection": system.config.model_dump(mode="json")},
        )
        steps.append(step)
        people.append(step.seq)

    destination = (details or {}).get("destination") if kind is RequestKind.PORTABILITY else None
    closing = Phase.PACKAGE if change is None else Phase.FINISH
    steps.append(
        PlannedStep(
            len(steps) + 1,
            closing,
            None,
            None,
            [*reads, *changes, *people],
            {"transmit": True} if destination else None,
        )
    )
    if destination:
        steps.append(
            PlannedStep(
                len(steps) + 1,
                Phase.TRANSMIT,
                None,
                None,
                [steps[-1].seq],
                {"destination": str(destination)},
            )
        )
    return Plan(steps=steps, traversal=traversal)


def _change_inputs(kind: RequestKind, details: dict[str, Any]) -> dict[str, Any] | None:
    if kind is RequestKind.RESTRICTION:
        return {"restrict": True}
    if kind is RequestKind.RESTRICTION_LIFT:
        return {"restrict": False}
    if kind is RequestKind.OBJECTION:
        return {"restrict": True, "marks": "objection"}
    if kind is RequestKind.RECTIFICATION:
        return {"corrections": details.get("corrections", {})}
    return None
