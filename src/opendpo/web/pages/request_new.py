"""Staff log a request that came by phone, email, post or in person.

The request is the person's, not the staff member's: it gets the same deadline rules and the
same codes (unless the staff member confirmed the identity themselves and says how). How it
arrived is required: it is the evidence of the date of receipt, which starts the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from opendpo.errors import InvalidValue
from opendpo.rights import calendar
from opendpo.rights.handling import deliver
from opendpo.rights.intake import KIND_FIELDS, submit_request
from opendpo.rights.kinds import STAFF_CHANNELS, ObjectionGround, RequestChannel
from opendpo.web.auth import record_audit
from opendpo.web.dependencies import LettersDep, PolicyDep, SessionDep, StateDep
from opendpo.web.pages.request_page import REQUEST_TARGET
from opendpo.web.pages.request_queue import RequestsWriter, names_context, today
from opendpo.web.state import WebState

router = APIRouter(prefix="/console", include_in_schema=False)

IDENTITY_FIELDS = ("email", "phone", "customer_id")
DETAIL_FIELDS = ("name", "description", *sorted({f for d in KIND_FIELDS.values() for f in d}))
CHANNEL_NAMES = {
    RequestChannel.PHONE: "Phone call",
    RequestChannel.EMAIL: "Email",
    RequestChannel.POST: "Letter",
    RequestChannel.IN_PERSON: "In person",
}
GROUND_NAMES = {
    ObjectionGround.DIRECT_MARKETING.value: "Direct marketing (must stop)",
    ObjectionGround.LEGITIMATE_INTERESTS.value: "Legitimate interests (weighed)",
    ObjectionGround.RESEARCH.value: "Research or statistics (weighed)",
}
# Received a while ago (a letter opened late) counts from the day it arrived: noon that day.
RECEIVED_HOUR = dt.time(12, 0)
INDEXED = re.compile(r"identities\[(\d+)\]\.value")


class NewRequestForm(BaseModel):
    kind: str = ""
    channel: str = ""
    received_on: str = ""
    email: str = ""
    phone: str = ""
    customer_id: str = ""
    name: str = ""
    description: str = ""
    corrections: str = ""
    ground: str = ""
    destination: str = ""
    decision: str = ""
    complaint: str = ""
    purposes: str = ""
    grounds: str = ""
    evidence: str = ""
    confirmed: str = ""
    verified_evidence: str = ""


def _page(
    request: Request,
    state: WebState,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "page": "requests",
        "values": values,
        "errors": errors or {},
        "channels": CHANNEL_NAMES,
        "ground_options": [("", "—"), *GROUND_NAMES.items()],
        "today": today(),
        **names_context(),
    }
    return state.templates.TemplateResponse(
        request, "console/requests_new.html", context, status_code=status
    )


@router.get("/requests/new", name="console_request_new")
def new_request_form(request: Request, auth: RequestsWriter, state: StateDep) -> Response:
    return _page(request, state, values=NewRequestForm(channel="phone").model_dump())


def _received_at(received_on: str, now: dt.datetime) -> dt.datetime:
    if not received_on:
        return now
    try:
        day = dt.date.fromisoformat(received_on)
    except ValueError:
        raise InvalidValue("received_on", "give the date as YYYY-MM-DD") from None
    local_today = calendar.local_date(now)
    if day > local_today:
        raise InvalidValue("received_on", "cannot be in the future")
    if day == local_today:
        return now
    return dt.datetime.combine(day, RECEIVED_HOUR, tzinfo=calendar.LONDON).astimezone(dt.UTC)


def _field_of(error: InvalidValue, identities: list[str]) -> str:
    """The form field an intake error names: `details.x` is `x`, `identities[i]` its input."""
    if error.field.startswith("details."):
        return error.field.removeprefix("details.")
    found = INDEXED.fullmatch(error.field)
    if found and int(found.group(1)) < len(identities):
        return identities[int(found.group(1))]
    return "email" if error.field == "identities" else error.field


@router.post("/requests/new", name="console_request_log")
def log_request(
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    letters: LettersDep,
    form: Annotated[NewRequestForm, Form()],
) -> Response:
    values = form.model_dump()
    given = [name for name in IDENTITY_FIELDS if values[name].strip()]
    now = dt.datetime.now(dt.UTC)
    try:
        try:
            channel = RequestChannel(form.channel)
        except ValueError:
            channel = None
        if channel not in STAFF_CHANNELS:
            raise InvalidValue("channel", "choose phone, email, post or in person")
        if form.confirmed and not form.verified_evidence.strip():
            raise InvalidValue("verified_evidence", "say how you confirmed the identity")
        created, sent = submit_request(
            session=session,
            keyring=state.keyring,
            policy=policy,
            kind=form.kind,
            identities=[(name, values[name]) for name in given],
            details={name: values[name] for name in DETAIL_FIELDS if values[name].strip()},
            channel=form.channel,
            actor=auth.principal.actor,
            context=letters,
            verified_evidence=form.verified_evidence if form.confirmed else None,
            evidence={"how_it_arrived": form.evidence.strip()} if form.evidence.strip() else None,
            received_at=_received_at(form.received_on, now),
            now=now,
        )
    except InvalidValue as exc:
        session.rollback()
        errors = {_field_of(exc, given): exc.detail}
        return _page(request, state, values=values, errors=errors, status=422)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.logged",
        target_kind=REQUEST_TARGET,
        target_id=created.id,
        details={
            "reference": created.reference,
            "kind": created.kind,
            "channel": created.channel,
            "identities": [identity.kind for identity in created.identities],
            "confirmed_by_staff": bool(form.confirmed),
        },
    )
    session.commit()
    deliver(
        session=session, mailer=state.mailer, request=created, sent=sent, actor=auth.principal.actor
    )
    return RedirectResponse(f"/console/requests/{created.id}", status_code=303)
