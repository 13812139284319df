"""The shapes of rights requests over the API.

Lists and write answers carry no personal data: identities show their kind and whether they
are verified, never their value, and details stay out. Only the single view (audited) has them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opendpo.execution.person_steps import MAX_NOTE
from opendpo.execution.progress import rows_changed, rows_found
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.rights import queue
from opendpo.rights.kinds import RefusalReason, RequestChannel, RequestKind, RequestStatus
from opendpo.rights.records import Request, RequestEvent
from opendpo.rights.workflow import MAX_TEXT
from opendpo.security.audit import as_utc
from opendpo.subjects.identities import IdentityKind
from opendpo.web.api.people import IdentityCreate

# Clocks of connected systems drift; a minute ahead is a clock, not a request from the future.
CLOCK_SKEW = dt.timedelta(minutes=1)
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RequestKind
    identities: Annotated[list[IdentityCreate], Field(min_length=1, max_length=5)]
    details: dict[str, Any] = Field(
        default_factory=dict, description="The kind's fields: description, corrections, ground…"
    )
    channel: RequestChannel = Field(
        default=RequestChannel.API,
        description="How it arrived; phone, email, post and in_person need `evidence`.",
    )
    evidence: dict[str, Any] | None = Field(
        default=None, description="For staff channels: the call, email or letter it came by."
    )
    verified_evidence: Annotated[str | None, Field(max_length=1000)] = Field(
        default=None,
        description="The calling system vouches for every identity and says how (e.g. the "
        "person was signed in to the customer portal). Otherwise each email gets a code.",
    )
    received_at: dt.datetime | None = Field(
        default=None, description="When it was received, if before now; not in the future."
    )

    @field_validator("received_at")
    @classmethod
    def _not_in_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if moment > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
            raise ValueError("must not be in the future")
        return moment


class IdentitySummary(BaseModel):
    id: int
    kind: IdentityKind
    verified: bool


class RequestPublic(BaseModel):
    id: str
    reference: str
    kind: RequestKind
    status: RequestStatus
    channel: RequestChannel
    received_at: dt.datetime
    clock_starts_on: dt.date | None
    due_on: dt.date | None
    original_due_on: dt.date | None
    extended_months: int
    working_days_left: int | None = Field(description="0: due today; negative: overdue.")
    paused: bool
    assigned_to: str | None
    identities: list[IdentitySummary]


class IdentityDetail(IdentitySummary):
    value: str
    verified_at: dt.datetime | None
    verified_by: str | None


class RequestDetail(RequestPublic):
    """One request with what the person wrote: reading it is on the audit log."""

    identities: list[IdentityDetail]  # type: ignore[assignment]
    details: dict[str, Any]
    person_id: str | None
    duplicate_of: str | None
    refusal_reason: RefusalReason | None
    response: str | None
    closed_at: dt.datetime | None


class RequestPage(BaseModel):
    items: list[RequestPublic]
    total: int
    limit: int
    offset: int


class EventPublic(BaseModel):
    id: int
    at: dt.datetime
    actor_kind: str
    actor_id: str | None
    kind: str
    from_status: str | None
    to_status: str | None
    message: str | None
    data: dict[str, Any]
    public: bool = Field(description="Shown to the person on the privacy centre.")


def _base(request: Request) -> dict[str, Any]:
    return {
        "id": request.id,
        "reference": request.reference,
        "kind": request.kind,
        "status": request.status,
        "channel": request.channel,
        "received_at": as_utc(request.received_at),
        "clock_starts_on": request.clock_starts_on,
        "due_on": request.due_on,
        "original_due_on": request.original_due_on,
        "extended_months": request.extended_months,
        "working_days_left": queue.urgency(
            status=request.status, due_on=request.due_on, today=queue.london_today()
        )[0],
        "paused": any(p.ended_on is None for p in request.pauses),
        "assigned_to": request.assigned_to,
    }


def request_public(request: Request) -> RequestPublic:
    return RequestPublic(
        **_base(request),
        identities=[
            IdentitySummary(id=i.id, kind=IdentityKind(i.kind), verified=i.verified_at is not None)
            for i in request.identities
        ],
    )


def request_detail(request: Request) -> RequestDetail:
    return RequestDetail(
        **_base(request),
        identities=[
            IdentityDetail(
                id=i.id,
                kind=IdentityKind(i.kind),
                verified=i.verified_at is not None,
                value=i.value,
                verified_at=as_utc(i.verified_at) if i.verified_at else None,
                verified_by=i.verified_by,
            )
            for i in request.identities
        ],
        details=request.details,
        person_id=request.person_id,
        duplicate_of=request.duplicate_of,
        refusal_reason=request.refusal_reason,
        response=request.response,
        closed_at=as_utc(request.closed_at) if request.closed_at else None,
    )


def event_public(event: RequestEvent) -> EventPublic:
    return EventPublic(
        id=event.id,
        at=as_utc(event.at),
        actor_kind=event.actor_kind,
        actor_id=event.actor_id,
        kind=event.kind,
        from_status=event.from_status,
        to_status=event.to_status,
        message=event.message,
        data=event.data,
        public=event.public,
    )


# The bodies of the actions on a request.


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyIdentity(Action):
    identity_id: int = Field(description="The identity's id, from the request's identities.")
    evidence: Text = Field(description="How it was confirmed: documents seen, a call-back made.")


class AwaitAction(Action):
    waiting_for: Text


class Extend(Action):
    months: Annotated[int, Field(ge=1, le=2)]
    reason: Text


class Pause(Action):
    question: Text = Field(description="The clarification needed; sent to the person.")


class Resume(Action):
    note: Annotated[str, Field(max_length=MAX_TEXT)] = ""


class Refuse(Action):
    reason: RefusalReason
    explanation: Text


class Complete(Action):
    response: Text = Field(description="The response letter's text, readable online too.")


class Cancel(Action):
    reason: Text


class Assign(Action):
    staff_id: str | None = Field(description="The staff member's id; null unassigns.")


class Note(Action):
    note: Text


# Running a request across the connected systems.


class RunOptions(Action):
    corrections: dict[str, Annotated[str, Field(min_length=1, max_length=1000)]] | None = Field(
        default=None,
        description="Rectification: data categories (user.job_title) or fields "
        "(crm_db.contacts.job_title) and their corrected values.",
    )
    retry_failed: bool = Field(
        default=False, description="When already run: give the failed steps another go."
    )


class StepAnswer(Action):
    outcome: Literal["done", "not_possible"]
    note: Annotated[str, Field(min_length=1, max_length=MAX_NOTE)] = Field(
        description="What was done or found, or why it could not be done."
    )


class FilePublic(BaseModel):
    id: str
    purpose: str = Field(description="access_package, erasure_report, step_attachment …")
    name: str
    content_type: str
    size: int
    step: int | None = Field(description="The step it was attached to, if any.")
    created_at: dt.datetime


class StepPublic(BaseModel):
    seq: int
    phase: str
    system: str | None
    dataset: str | None
    status: str = Field(description="pending, running, waiting, done, failed, skipped, cancelled")
    depends_on: list[int]
    attempts: int
    rows_found: int | None
    rows_changed: int | None
    waiting_for: str | None = Field(description="staff or processor, for a waiting step.")
    error: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    summary: dict[str, Any] = Field(description="Counts and names only, as the step wrote them.")


class RequestSteps(BaseModel):
    request: RequestPublic
    steps: list[StepPublic]
    files: list[FilePublic] = Field(description="Packages, reports and attachments, in full.")


def step_public(step: RequestStep) -> StepPublic:
    summary = step.summary or {}
    return StepPublic(
        seq=step.seq,
        phase=step.phase,
        system=step.system,
        dataset=step.dataset,
        status=step.status,
        depends_on=list(step.depends_on or []),
        attempts=step.attempts,
        rows_found=rows_found(step),
        rows_changed=rows_changed(step),
        waiting_for=summary.get("waiting_for") if step.status == "waiting" else None,
        error=step.error,
        started_at=as_utc(step.started_at) if step.started_at else None,
        finished_at=as_utc(step.finished_at) if step.finished_at else None,
        summary=summary,
    )


def request_steps(
    request: Request, steps: list[RequestStep], files: list[StoredFile]
) -> RequestSteps:
    seqs = {step.id: step.seq for step in steps}
    return RequestSteps(
        request=request_public(request),
        steps=[step_public(step) for step in steps],
        files=[
            FilePublic(
                id=f.id,
                purpose=f.purpose,
                name=f.name,
                content_type=f.content_type,
                size=f.size,
                step=seqs.get(f.step_id) if f.step_id is not None else None,
                created_at=as_utc(f.created_at),
            )
            for f in files
        ],
    )
