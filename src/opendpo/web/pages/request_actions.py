"""Working a request from its console page: one POST per step, then back to the page.

Each step runs the workflow function, writes `request.<step>` to the audit log (ids, kinds and
counts, never what anyone wrote), commits, and only then sends the letters the step owes. A
step refused by the workflow shows the page again with the reason; a form older than the
request (someone else acted meanwhile) is refused rather than applied over their change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.responses import Response

from opendpo.errors import DomainError, InvalidValue, NotFound
from opendpo.rights import verification, workflow
from opendpo.rights.handling import deliver, get_request
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.records import Request as RightsRequest
from opendpo.security.staff import StaffUser
from opendpo.web.auth import Auth, record_audit
from opendpo.web.dependencies import LettersDep, SessionDep, StateDep
from opendpo.web.pages.request_page import REQUEST_TARGET, assignable_staff, render_request
from opendpo.web.pages.request_queue import RequestsWriter

router = APIRouter(prefix="/console", include_in_schema=False)

STALE_MESSAGE = (
    "Someone else changed this request while you had it open, so nothing was done. "
    "Reload the page to see their change, then try again."
)


class StaleForm(DomainError):
    code = "stale_form"

    def __init__(self) -> None:
        super().__init__(STALE_MESSAGE)


class ActionForm(BaseModel):
    """Every field any step's form sends; each step reads its own."""

    version: str = ""
    waiting_for: str = ""
    months: str = ""
    reason: str = ""
    question: str = ""
    note: str = ""
    staff: str = ""
    response: str = ""
    explanation: str = ""
    identity_id: str = ""
    evidence: str = ""


@dataclass(frozen=True)
class Step:
    """What a step works with."""

    session: Session
    request: RightsRequest
    auth: Auth
    form: ActionForm
    letters: LetterContext


# A step returns the letters it owes and the audit entry's details.
Outcome = tuple[list[Letter], dict[str, Any]]


def _begin(step: Step) -> Outcome:
    return workflow.begin(
        session=step.session, request=step.request, actor=step.auth.principal.actor
    ), {}


def _await(step: Step) -> Outcome:
    return workflow.await_action(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        waiting_for=step.form.waiting_for,
    ), {}


def _extend(step: Step) -> Outcome:
    if step.form.months not in ("1", "2"):
        raise InvalidValue("months", "choose 1 or 2 months")
    months = int(step.form.months)
    sent = workflow.extend(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        months=months,
        reason=step.form.reason,
        context=step.letters,
    )
    return sent, {"months": months, "due_on": str(step.request.due_on)}


def _pause(step: Step) -> Outcome:
    return workflow.pause(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        question=step.form.question,
        context=step.letters,
    ), {}


def _resume(step: Step) -> Outcome:
    sent = workflow.resume(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        note=step.form.note,
    )
    return sent, {"due_on": str(step.request.due_on)}


def _assign(step: Step) -> Outcome:
    chosen = step.auth.principal.id if step.form.staff == "me" else step.form.staff
    staff: StaffUser | None = None
    if chosen:
        staff = next((s for s in assignable_staff(step.session) if s.id == chosen), None)
        if staff is None:
            raise InvalidValue("staff", "choose an active staff member who works requests")
    workflow.assign(
        session=step.session, request=step.request, actor=step.auth.principal.actor, staff=staff
    )
    return [], {"staff": staff.id if staff is not None else None}


def _note(step: Step) -> Outcome:
    workflow.add_note(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        note=step.form.note,
    )
    return [], {}


def _complete(step: Step) -> Outcome:
    return workflow.complete(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        response=step.form.response,
        context=step.letters,
    ), {}


def _refuse(step: Step) -> Outcome:
    sent = workflow.refuse(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        reason=step.form.reason,
        explanation=step.form.explanation,
        context=step.letters,
    )
    return sent, {"reason": step.request.refusal_reason}


def _cancel(step: Step) -> Outcome:
    return workflow.cancel(
        session=step.session,
        request=step.request,
        actor=step.auth.principal.actor,
        reason=step.form.reason,
        context=step.letters,
    ), {}


def _verify(step: Step) -> Outcome:
    if not step.form.identity_id.isdigit():
        raise InvalidValue("identity", "choose the identity to confirm")
    identity_id = int(step.form.identity_id)
    sent = verification.verify_by_staff(
        session=step.session,
        request=step.request,
        identity_id=identity_id,
        actor=step.auth.principal.actor,
        evidence=step.form.evidence,
        context=step.letters,
    )
    kind = next(i.kind for i in step.request.identities if i.id == identity_id)
    return sent, {"identity": identity_id, "identity_kind": kind}


STEPS: dict[str, Callable[[Step], Outcome]] = {
    "begin": _begin,
    "await": _await,
    "extend": _extend,
    "pause": _pause,
    "resume": _resume,
    "assign": _assign,
    "note": _note,
    "complete": _complete,
    "refuse": _refuse,
    "cancel": _cancel,
    "verify": _verify,
}


def _check_version(found: RightsRequest, sent: str) -> None:
    if not sent.isdigit() or int(sent) != found.version:
        raise StaleForm()


@router.post("/requests/{request_id}/{action}", name="console_request_action")
def request_action(
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    letters: LettersDep,
    request_id: str,
    action: str,
    form: Annotated[ActionForm, Form()],
) -> Response:
    found = get_request(session=session, key=request_id)
    run = STEPS.get(action)
    if run is None:
        raise NotFound("request action", action)
    values = {f"{action}.{name}": value for name, value in form.model_dump().items()}
    try:
        _check_version(found, form.version)
        sent, details = run(Step(session, found, auth, form, letters))
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action=f"request.{action}",
            target_kind=REQUEST_TARGET,
            target_id=found.id,
            details={"reference": found.reference, "status": found.status, **details},
        )
        session.commit()
    except InvalidValue as exc:
        session.rollback()
        return render_request(
            request,
            state=state,
            session=session,
            auth=auth,
            rights_request=found,
            status_code=422,
            message=f"Nothing was done: {exc.detail}",
            errors={action: {exc.field: exc.detail}},
            values=values,
        )
    except (StaleForm, StaleDataError):
        session.rollback()
        return render_request(
            request,
            state=state,
            session=session,
            auth=auth,
            rights_request=found,
            status_code=409,
            message=STALE_MESSAGE,
            values=values,
        )
    except workflow.TransitionRefused as exc:
        session.rollback()
        return render_request(
            request,
            state=state,
            session=session,
            auth=auth,
            rights_request=found,
            status_code=409,
            message=f"Nothing was done: {exc}",
            values=values,
        )
    deliver(
        session=session,
        mailer=state.mailer,
        request=found,
        sent=sent,
        actor=auth.principal.actor,
    )
    return RedirectResponse(f"/console/requests/{found.id}", status_code=303)
