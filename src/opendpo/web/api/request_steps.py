"""Running a request across the connected systems over the API: run it, follow its steps,
and answer a step that waits on a person.

A run is accepted (202) once its plan is committed; the steps are worked by the queue's
workers (embedded in the server, or `opendpo worker` processes), and `GET …/steps` follows
them. Each change is audited in its own transaction, and the steps it made ready are handed
to the queue only after the commit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from sqlalchemy.orm import Session

from opendpo.execution import engine, person_steps
from opendpo.execution.progress import (
    ready_step_ids,
    request_files,
    request_step,
    request_steps,
)
from opendpo.rights.handling import get_request
from opendpo.rights.records import Request
from opendpo.security.roles import Permission
from opendpo.web.api import request_shapes as shapes
from opendpo.web.auth import Auth, Permit, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.state import WebState

router = APIRouter(tags=["requests"])

TARGET = "request"
Reader = Annotated[Auth, Depends(Permit(Permission.REQUESTS_READ))]
Writer = Annotated[Auth, Depends(Permit(Permission.REQUESTS_WRITE))]


def _steps(session: Session, request: Request) -> shapes.RequestSteps:
    return shapes.request_steps(
        request,
        request_steps(session=session, request_id=request.id),
        request_files(session=session, request_id=request.id),
    )


def _after_commit(state: WebState, session: Session, request: Request) -> shapes.RequestSteps:
    state.runner.hand_out(request.id, ready_step_ids(session=session, request_id=request.id))
    return _steps(session, request)


@router.post(
    "/requests/{request_id}/run",
    response_model=shapes.RequestSteps,
    status_code=202,
    summary="Run a verified request across the connected systems (or carry on with it)",
    description="The first call plans the request and queues its first steps; later calls "
    "queue whatever can run (with `retry_failed`, the failed steps too). Follow the steps "
    "with `GET /requests/{request_id}/steps`.",
)
def request_run(
    auth: Writer,
    state: StateDep,
    session: SessionDep,
    request_id: str,
    body: Annotated[shapes.RunOptions | None, Body()] = None,
) -> shapes.RequestSteps:
    options = body or shapes.RunOptions()
    request = get_request(session=session, key=request_id)
    actor = auth.principal.actor
    planned = request_steps(session=session, request_id=request.id)
    details: dict[str, object] = {"retry_failed": options.retry_failed}
    if not planned:
        fixes = options.corrections
        ready = engine.start(
            session=session,
            runtime=state.runner.runtime,
            request=request,
            actor=actor,
            inputs={"corrections": fixes} if fixes else None,
        )
        details["ready"] = len(ready)
    elif options.retry_failed:
        retried = engine.retry_failed(session=session, request=request, actor=actor)
        details["retried"] = [step.seq for step in retried]
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.run",
        target_kind=TARGET,
        target_id=request.id,
        details=details,
    )
    session.commit()
    return _after_commit(state, session, request)


@router.get(
    "/requests/{request_id}/steps",
    response_model=shapes.RequestSteps,
    summary="A request's steps across the systems, and the files they made (audited)",
)
def request_steps_read(
    auth: Reader, state: StateDep, session: SessionDep, request_id: str
) -> shapes.RequestSteps:
    request = get_request(session=session, key=request_id)
    result = _steps(session, request)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.viewed",
        target_kind=TARGET,
        target_id=request.id,
        details={"reference": request.reference, "part": "steps"},
    )
    session.commit()  # the read is on the log before the file names go out
    return result


@router.post(
    "/requests/{request_id}/steps/{seq}/answer",
    response_model=shapes.RequestSteps,
    summary="Record the answer to a step that waits on a person (a manual task, a processor)",
)
def step_answer(
    body: shapes.StepAnswer,
    auth: Writer,
    state: StateDep,
    session: SessionDep,
    request_id: str,
    seq: int,
) -> shapes.RequestSteps:
    request = get_request(session=session, key=request_id)
    step = request_step(session=session, request_id=request.id, seq=seq)
    person_steps.answer(
        session=session,
        request=request,
        step=step,
        actor=auth.principal.actor,
        outcome=body.outcome,
        note=body.note,
    )
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.step_answer",
        target_kind=TARGET,
        target_id=request.id,
        details={"step": seq, "outcome": body.outcome, "attachments": 0},
    )
    session.commit()
    return _after_commit(state, session, request)
