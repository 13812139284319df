"""The "Systems" part of a request's console page: its plan, where each step stands, the
files the steps made or were given, and which of the execution forms apply.

A step's summary holds counts and names only (rows per collection, fields changed), so the
table shows it as it is; the files' names may hold personal data, and are shown on the page
whose every view is audited.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from opendpo.execution.engine import STARTABLE
from opendpo.execution.planning import EXECUTABLE
from opendpo.execution.progress import request_files, request_steps, rows_changed, rows_found
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.steps import StepStatus
from opendpo.rights.kinds import CLOSED, RequestKind, RequestStatus
from opendpo.rights.records import Request

ATTACHMENT = "step_attachment"
# What a person may attach to one answer: the data found by hand, a processor's letter.
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
PURPOSE_NAMES = {
    "access_package": "Access package (zip)",
    "portability_package": "Portability package (zip)",
    "erasure_report": "Erasure report",
    "rectification_report": "Rectification report",
    "restriction_report": "Restriction report",
    "restriction_lift_report": "Report on lifting the restriction",
    "objection_report": "Objection report",
}


@dataclass(frozen=True)
class FileLine:
    id: str
    name: str
    purpose: str
    size: int
    created_at: dt.datetime

    @property
    def label(self) -> str:
        return PURPOSE_NAMES.get(self.purpose, self.purpose.replace("_", " ").capitalize())


@dataclass(frozen=True)
class StepLine:
    id: int
    seq: int
    phase: str
    system: str | None
    dataset: str | None
    status: str
    attempts: int
    found: int | None
    changed: int | None
    error: str | None
    waiting_for: str | None
    task: str | None
    answer: str | None
    attachments: list[FileLine] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        """Waiting on a person (a manual task, a processor, a recipient to tell): answerable."""
        return self.status == StepStatus.WAITING.value


def file_line(stored: StoredFile) -> FileLine:
    return FileLine(stored.id, stored.name, stored.purpose, stored.size, stored.created_at)


def step_line(step: RequestStep, attachments: list[FileLine]) -> StepLine:
    summary = step.summary or {}
    return StepLine(
        id=step.id,
        seq=step.seq,
        phase=step.phase,
        system=step.system,
        dataset=step.dataset,
        status=step.status,
        attempts=step.attempts,
        found=rows_found(step),
        changed=rows_changed(step),
        error=step.error,
        waiting_for=summary.get("waiting_for"),
        task=summary.get("task") or summary.get("processor"),
        answer=summary.get("answer"),
        attachments=attachments,
    )


def systems_context(session: Session, request: Request, *, may_act: bool) -> dict[str, Any]:
    """What the request page's "Systems" section shows, and which forms it offers."""
    steps = request_steps(session=session, request_id=request.id)
    files = request_files(session=session, request_id=request.id)
    attached: dict[int, list[FileLine]] = defaultdict(list)
    results = []
    for stored in files:
        if stored.purpose == ATTACHMENT and stored.step_id is not None:
            attached[stored.step_id].append(file_line(stored))
        else:
            results.append(file_line(stored))
    lines = [step_line(step, attached.get(step.id, [])) for step in steps]
    status = RequestStatus(request.status)
    executable = RequestKind(request.kind) in EXECUTABLE
    return {
        "steps": lines,
        "result_files": results,
        "executable": executable,
        "may_run": may_act and executable and not steps and status in STARTABLE,
        # An erasure not yet run can be previewed first (request_dry_run).
        "may_preview": may_act
        and request.kind == RequestKind.ERASURE.value
        and not steps
        and status in STARTABLE,
        "may_retry": may_act
        and status not in CLOSED
        and any(s.status == StepStatus.FAILED.value for s in steps),
        "may_answer": may_act and status not in CLOSED,
        "needs_corrections": request.kind == RequestKind.RECTIFICATION.value,
        "max_attachments": MAX_ATTACHMENTS,
        "max_attachment_mib": MAX_ATTACHMENT_BYTES // (1024 * 1024),
    }
