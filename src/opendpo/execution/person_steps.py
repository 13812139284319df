"""Steps a person carries out: a manual task, or a processor asked by email.

The step writes its task (and, for a processor, sends the message), then waits. A staff
member records the answer — done, with a note and any attachments, or not possible, with
the reason — and the plan carries on from there.

The processor's message is sent before the step records that it waits; a worker that dies
in between sends it again on retry. Each message carries the same Message-ID for the same
step, so the processor's mail system sees one message, not two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from opendpo.connectors.processor_email import ProcessorEmailConnection
from opendpo.errors import DomainError, InvalidValue
from opendpo.execution.outcome import Outcome
from opendpo.execution.planning import Phase
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import StepStatus
from opendpo.rights.calendar import add_working_days, local_date
from opendpo.rights.kinds import LABELS, RequestKind, RequestStatus
from opendpo.rights.records import Request
from opendpo.rights.timeline import add_event
from opendpo.rights.workflow import move
from opendpo.security.audit import Actor

MAX_NOTE = 10_000
ANSWERS = ("done", "not_possible")


class StepNotWaiting(DomainError):
    code = "step_not_waiting"


def run(runtime: Runtime, session: Session, request: Request, step: RequestStep) -> Outcome:
    inputs = step.inputs or {}
    connection = inputs.get("connection", {})
    kind = RequestKind(str(inputs.get("kind", request.kind)))
    if connection.get("type") == "email":
        config = ProcessorEmailConnection.model_validate(connection)
        answer_by = add_working_days(local_date(dt.datetime.now(dt.UTC)), config.answer_within_days)
        message = _processor_message(runtime, request, step, config, kind, answer_by)
        runtime.mailer.send(message)
        return Outcome(
            status=StepStatus.WAITING,
            summary={
                "attempt": step.attempts,
                "waiting_for": "processor",
                "processor": config.processor_name,
                "answer_by": answer_by.isoformat(),
            },
            message=f"asked {config.processor_name} by email; their answer is due by "
            f"{answer_by:%d %B %Y}",
        )
    instructions = str(connection.get("instructions", ""))
    return Outcome(
        status=StepStatus.WAITING,
        summary={"attempt": step.attempts, "waiting_for": "staff", "task": instructions},
        message=f"a task for staff ({_verb(kind)} in {step.system}): {instructions}",
    )


def _verb(kind: RequestKind) -> str:
    return {
        RequestKind.ACCESS: "find and attach the person's data",
        RequestKind.PORTABILITY: "find and attach the data the person gave us",
        RequestKind.ERASURE: "erase the person's data and confirm",
        RequestKind.RECTIFICATION: "correct the person's data and confirm",
        RequestKind.RESTRICTION: "mark the person's data as restricted and confirm",
        RequestKind.RESTRICTION_LIFT: "lift the restriction and confirm",
    }.get(kind, "act on the request")


def _processor_message(
    runtime: Runtime,
    request: Request,
    step: RequestStep,
    config: ProcessorEmailConnection,
    kind: RequestKind,
    answer_by: dt.date,
) -> Any:
    identities = "\n".join(
        f"  - {i.kind}: {i.value}" for i in request.identities if i.verified_at is not None
    )
    extra = f"\n{config.instructions}\n" if config.instructions else ""
    corrections = ""
    if kind is RequestKind.RECTIFICATION:
        wanted = (step.inputs or {}).get("corrections") or (request.details or {}).get(
            "corrections", {}
        )
        corrections = "\nCorrections asked for:\n" + "\n".join(
            f"  - {k}: {v}" for k, v in (wanted.items() if isinstance(wanted, dict) else [])
        )
    text = (
        f"Dear {config.processor_name},\n\n"
        f"As our processor for {step.system}, please carry out this data protection request "
        f"(UK GDPR) on our behalf.\n\n"
        f"Our reference: {request.reference}\n"
        f"What is asked: {LABELS[kind]} ({_verb(kind)})\n"
        f"The person, as verified by us:\n{identities}\n{corrections}{extra}\n"
        f"Please answer by {answer_by:%d %B %Y}, quoting our reference: confirm what you did "
        "(and send the data found, for a copy), or tell us why it could not be done.\n"
    )
    message = runtime.mailer.new_message(
        to=config.to,
        subject=f"Data protection request {request.reference}: {kind.value.replace('_', ' ')}",
        text=text,
    )
    if config.cc:
        message["Cc"] = ", ".join(config.cc)
    domain = runtime.settings.mail_from.rpartition("@")[2] or "opendpo.invalid"
    del message["Message-ID"]
    message["Message-ID"] = f"<request-{request.id}-step-{step.seq}@{domain}>"
    return message


def answer(
    *,
    session: Session,
    request: Request,
    step: RequestStep,
    actor: Actor,
    outcome: str,
    note: str,
    attachments: Sequence[StoredFile] = (),
    now: dt.datetime | None = None,
) -> None:
    """Record a person's answer to a waiting step (in the caller's transaction), with the
    files they attached (already stored for this step, e.g. the data found by hand)."""
    # A notice to a recipient (Art 19) is closed the same way, once the recipient is told.
    if step.phase not in (Phase.PERSON.value, Phase.NOTIFY.value) or (
        step.status != StepStatus.WAITING.value
    ):
        raise StepNotWaiting(f"step {step.seq} of {request.reference} is not waiting on anyone")
    if outcome not in ANSWERS:
        raise InvalidValue("outcome", f"choose one of {', '.join(ANSWERS)}")
    note = note.strip()
    if not note:
        raise InvalidValue("note", "say what was done (or why it could not be)")
    if len(note) > MAX_NOTE:
        raise InvalidValue("note", f"must be at most {MAX_NOTE} characters")
    if any(f.request_id != request.id or f.step_id != step.id for f in attachments):
        raise InvalidValue("attachments", f"attach only files stored for step {step.seq}")
    moment = now or dt.datetime.now(dt.UTC)
    if request.status == RequestStatus.AWAITING_ACTION.value:
        move(
            session=session, request=request, to=RequestStatus.IN_PROGRESS, actor=actor, now=moment
        )
    step.status = (StepStatus.DONE if outcome == "done" else StepStatus.FAILED).value
    step.finished_at = moment
    step.summary = {
        **step.summary,
        "answer": outcome,
        "answered_by": actor.id,
        "attachments": len(attachments),
    }
    step.error = None if outcome == "done" else "not possible (see the note)"
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind=f"step_{step.status}",
        message=f"step {step.seq} ({step.system}): {note}",
        data={"step": step.seq, "answer": outcome, "attachments": len(attachments)},
        now=moment,
    )
