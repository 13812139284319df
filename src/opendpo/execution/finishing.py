"""Finishing a request that changed systems: what OpenDPO itself must remember, a report of
what was done, and the response to the person.

- Erasure: each verified email and phone goes on the suppression list (a keyed hash, so it
  survives the erasure and a later import cannot bring the person back into marketing).
- Restriction: the decision point's own flag is set (or lifted), so every later use of the
  person's data is refused while it stands, whatever the systems could hold.
- Every kind: a JSON report of rows changed per system and collection (counts, never
  values) and of the recipients told of the change (Art 19), kept with the request for
  staff, and the completion letter, which offers to name those recipients.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.consent.suppression import ALL_PURPOSES, SuppressionReason, suppress
from opendpo.execution import notices
from opendpo.execution.files import open_writer
from opendpo.execution.outcome import Outcome
from opendpo.execution.planning import Phase
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import StepStatus
from opendpo.rights import workflow
from opendpo.rights.kinds import RequestKind
from opendpo.rights.letters import LetterContext
from opendpo.rights.objection import objection_action
from opendpo.rights.records import Request
from opendpo.security.audit import Actor, ActorKind
from opendpo.subjects.flags import FlagKind, active_flags, add_flag, lift_flag
from opendpo.subjects.identities import IdentityKind
from opendpo.subjects.people import find_or_create_person

ENGINE = Actor(ActorKind.SYSTEM, "engine")
CHANGE_PHASES = (Phase.ERASE.value, Phase.RECTIFY.value, Phase.RESTRICT.value)
SUPPRESSED_KINDS = {IdentityKind.EMAIL.value: "email", IdentityKind.PHONE.value: "phone"}


def run(runtime: Runtime, session: Session, request: Request, step: RequestStep) -> Outcome:
    kind = RequestKind(request.kind)
    steps = list(
        session.scalars(
            select(RequestStep)
            .where(RequestStep.request_id == request.id)
            .order_by(RequestStep.seq)
        )
    )
    owed = notices.plan_notices(runtime, session, request, steps)
    report = _report(request, steps)
    report["recipients"] = [notice.report() for notice in owed]
    actions: list[tuple[str, Callable[[], None]]] = []
    if owed:
        count = len(owed)
        actions.append(
            (
                f"{count} recipient{'s' if count != 1 else ''} to tell (Art 19): "
                + ", ".join(n.recipient.name for n in owed),
                lambda: notices.send_notices(runtime, session, request, step, owed),
            )
        )
    if kind is RequestKind.ERASURE:
        actions.append(_suppress(runtime, session, request))
    if kind in (RequestKind.RESTRICTION, RequestKind.RESTRICTION_LIFT):
        actions.append(_flag(runtime, session, request, restrict=kind is RequestKind.RESTRICTION))
    if kind is RequestKind.OBJECTION:
        actions.append(
            objection_action(
                session=session,
                keyring=runtime.keyring,
                request=request,
                policy=runtime.policy(session),
            )
        )
    notes = [note for note, _ in actions]
    report["opendpo"] = notes
    # A report larger than a block is written through sessions of its own, so this step's
    # session must not hold a write lock yet (SQLite allows one writer): store first, then act.
    file_id = _store_report(runtime, session, request, step, report)
    for _, act in actions:
        act()
    changed = sum(report["changed"].values())
    policy = runtime.policy(session)
    context = LetterContext(policy, runtime.links, runtime.settings.base_url)
    letters = workflow.complete(
        session=session,
        request=request,
        actor=ENGINE,
        response=_letter_text(
            kind, changed, len(report["systems"]), report["people"], len(report["recipients"])
        ),
        context=context,
    )
    return Outcome(
        status=StepStatus.DONE,
        summary={"attempt": step.attempts, "file": file_id, "changed": changed},
        message=f"{changed} row{'s' if changed != 1 else ''} changed; " + "; ".join(notes),
        letters=letters,
    )


def _report(request: Request, steps: list[RequestStep]) -> dict[str, Any]:
    changed: dict[str, int] = {}
    kept: dict[str, Any] = {}
    systems: list[str] = []
    people: list[dict[str, Any]] = []
    for step in steps:
        if step.phase in CHANGE_PHASES:
            systems.append(str(step.system))
            for key, count in step.summary.get("changed", {}).items():
                changed[key] = changed.get(key, 0) + int(count)
            kept.update(step.summary.get("kept", {}))
        elif step.phase == Phase.PERSON.value:
            people.append(
                {
                    "system": step.system,
                    "status": step.status,
                    "answer": step.summary.get("answer"),
                }
            )
    return {
        "request": request.reference,
        "kind": request.kind,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "systems": sorted(set(systems)),
        "changed": changed,
        "kept": kept,
        "people": people,
    }


def _store_report(
    runtime: Runtime, session: Session, request: Request, step: RequestStep, report: dict[str, Any]
) -> str:
    writer = open_writer(
        session_factory=runtime.session_factory,
        session=session,
        request_id=request.id,
        purpose=f"{request.kind}_report",
        name=f"{request.reference}-{request.kind}-report.json",
        content_type="application/json",
        step_id=step.id,
        created_by="engine",
    )
    with writer:
        writer.write(json.dumps(report, indent=2, sort_keys=True).encode())
    return writer.file_id


def _suppress(
    runtime: Runtime, session: Session, request: Request
) -> tuple[str, Callable[[], None]]:
    chosen = [
        (identity, SUPPRESSED_KINDS[identity.kind])
        for identity in request.identities
        if identity.verified_at is not None and identity.kind in SUPPRESSED_KINDS
    ]

    def act() -> None:
        for identity, channel in chosen:
            suppress(
                session=session,
                keyring=runtime.keyring,
                kind=identity.kind,
                value=identity.value,
                channel=channel,
                purpose=ALL_PURPOSES,
                reason=SuppressionReason.ERASURE,
                source=f"request {request.reference}",
            )

    count = len(chosen)
    return f"{count} address{'es' if count != 1 else ''} kept on the suppression list", act


def _flag(
    runtime: Runtime, session: Session, request: Request, *, restrict: bool
) -> tuple[str, Callable[[], None]]:
    identities = [(i.kind, i.value) for i in request.identities if i.verified_at is not None]
    current = (
        [
            f
            for f in active_flags(session=session, person_id=request.person_id)
            if f.kind == FlagKind.RESTRICTION.value
        ]
        if request.person_id is not None
        else []
    )

    def nothing() -> None:
        return None

    if not restrict:
        if request.person_id is None:
            return "no restriction was on file to lift", nothing

        def lift() -> None:
            for flag in current:
                reason = f"lifted at request {request.reference}"
                lift_flag(session=session, flag=flag, reason=reason)

        return f"{len(current)} restriction(s) lifted at the decision point", lift
    if current:
        return "processing was already restricted", nothing

    def add() -> None:
        if request.person_id is None:
            # The decision point must refuse every use from now on, known person or not.
            request.person_id = find_or_create_person(
                session=session, keyring=runtime.keyring, identities=identities
            ).id
        add_flag(
            session=session,
            person_id=request.person_id,
            kind=FlagKind.RESTRICTION,
            reason="restriction requested (Art 18)",
            source=request.id,
        )

    return "processing restricted at the decision point", add


def _letter_text(
    kind: RequestKind, changed: int, systems: int, people: list[dict[str, Any]], recipients: int
) -> str:
    done = {
        RequestKind.ERASURE: "We have erased your personal data",
        RequestKind.RECTIFICATION: "We have corrected your personal data",
        RequestKind.RESTRICTION: "We have restricted the use of your personal data",
        RequestKind.RESTRICTION_LIFT: "We have lifted the restriction on your personal data",
        RequestKind.OBJECTION: "We have recorded your objection and stopped the uses it covers",
    }[kind]
    text = f"{done} in {systems} system{'s' if systems != 1 else ''}"
    if people:
        text += f" and {len(people)} more handled by our staff or suppliers"
    text += "."
    if recipients:
        text += (
            f"\n\nWe are also letting the {recipients} organisation"
            f"{'s' if recipients != 1 else ''} we had shared this data with know of the "
            "change, as the law requires (UK GDPR Article 19). You may ask us which "
            "organisations they are."
        )
    if kind is RequestKind.ERASURE:
        text += (
            "\n\nSome records must be kept by law (for example invoices, which HMRC requires "
            "us to keep for six years); from those we removed everything the law does not "
            "require. We keep your email address only on our suppression list, so that you "
            "are never sent marketing again."
        )
    return text
