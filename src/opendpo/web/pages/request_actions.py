"""Working a request from its console page: one POST per step, then back to the page.

Each step is an action of rights.actions: it runs, writes the action's audit verb to the audit
log (ids, kinds and counts, never what anyone wrote), commits, and only then sends the letters
the step owes. A step refused by the workflow shows the page again with the reason; a form
older than the request (someone else acted meanwhile) is refused rather than applied over
their change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.responses import Response

from opendpo.errors import DomainError, InvalidValue, NotFound
from opendpo.rights import workflow
from opendpo.rights.actions import ACTIONS, Action, Fields, perform
from opendpo.rights.handling import deliver, get_request
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


def _fields(action: Action, form: ActionForm, session: Session, auth: Auth) -> Fields:
    """The form's text as the fields the action needs, each checked as its control allows."""
    given: dict[str, Any] = {name: getattr(form, name) for name in action.needs}
    if "months" in given:
        if form.months not in ("1", "2"):
            raise InvalidValue("months", "choose 1 or 2 months")
        given["months"] = int(form.months)
    if "identity_id" in given:
        if not form.identity_id.isdigit():
            raise InvalidValue("identity", "choose the identity to confirm")
        given["identity_id"] = int(form.identity_id)
    if "staff" in given:
        given["staff"] = _assignee(session, auth, form.staff)
    return Fields(**given)


def _assignee(session: Session, auth: Auth, chosen: str) -> StaffUser | None:
    staff_id = auth.principal.id if chosen == "me" else chosen
    if not staff_id:
        return None
    staff = next((s for s in assignable_staff(session) if s.id == staff_id), None)
    if staff is None:
        raise InvalidValue("staff", "choose an active staff member who works requests")
    return staff


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
    step = ACTIONS.get(action)
    if step is None:
        raise NotFound("request action", action)
    values = {f"{action}.{name}": value for name, value in form.model_dump().items()}
    try:
        _check_version(found, form.version)
        sent, details = perform(
            session=session,
            request=found,
            action=step,
            actor=auth.principal.actor,
            context=letters,
            fields=_fields(step, form, session, auth),
        )
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action=step.audit_action,
            target_kind=REQUEST_TARGET,
            target_id=found.id,
            details=details,
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
