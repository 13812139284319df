"""Consent in the console, on the person page: the person's preferences and ledger, and
the consent staff took by phone, on paper or by email.

The person's consent is personal data (people:read; the page's `person.viewed` audit entry
covers all it shows). The figures across everyone are in opendpo.web.pages.consent_figures.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.consent.ledger import (
    STAFF_METHODS,
    CollectionMethod,
    ConsentRecord,
    ConsentState,
    CurrentConsent,
    Proof,
    current_for_person,
    history_for_person,
)
from opendpo.consent.service import record_consent
from opendpo.errors import DomainError, InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import PolicyVersion, current_version
from opendpo.rights.queue import requests_of_person
from opendpo.security.audit import as_utc
from opendpo.security.roles import Permission
from opendpo.security.staff import StaffUser
from opendpo.subjects.people import Person, get_person
from opendpo.web.auth import Auth, Permit, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages.request_queue import names_context
from opendpo.web.state import WebState

router = APIRouter(prefix="/console", include_in_schema=False)

PeopleWriter = Annotated[Auth, Depends(Permit(Permission.PEOPLE_WRITE))]

# The receipt API is another module's; records link to it only once it is served.
RECEIPT_ROUTE = re.compile(r"/api/v1/consent/\{[a-z_]+\}/receipt")
STAFF_METHOD_NAMES = {
    CollectionMethod.PHONE: "by phone",
    CollectionMethod.PAPER: "on a paper form",
    CollectionMethod.EMAIL: "by email",
}
FORM_FIELDS = ("purpose_channel", "state", "method", "evidence", "happened_at")


@dataclass(frozen=True)
class Choice:
    """A purpose and channel the policy asks consent for: one option of the form."""

    purpose: str
    channel: str
    label: str

    @property
    def value(self) -> str:
        return f"{self.purpose}:{self.channel}"


def consent_choices(policy: PolicyDocument | None) -> list[Choice]:
    if policy is None:
        return []
    return [
        Choice(purpose.key, channel, f"{purpose.name} · {channel.replace('_', ' ')}")
        for purpose in policy.purposes
        if purpose.consent is not None
        for channel in purpose.consent.channels
    ]


@dataclass
class ConsentForm:
    values: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FORM_FIELDS, ""))
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""


def _names(policy: PolicyDocument | None) -> dict[str, str]:
    """Purposes and cookie categories by key; a key the policy no longer has shows as is."""
    if policy is None:
        return {}
    names = {p.key: p.name for p in policy.purposes}
    if policy.cookies is not None:
        names.update({c.key: c.name for c in policy.cookies.categories})
    return names


def _receipt_links(request: Request, records: list[ConsentRecord]) -> dict[str, str]:
    for route in request.app.routes:
        if isinstance(route, APIRoute) and RECEIPT_ROUTE.fullmatch(route.path):
            parameter = route.path.split("{", 1)[1].split("}", 1)[0]
            return {r.id: route.path.replace("{" + parameter + "}", r.id) for r in records}
    return {}


def _staff_names(session: Session, records: list[ConsentRecord]) -> dict[str, str]:
    ids = {r.staff_id for r in records if r.staff_id}
    if not ids:
        return {}
    rows = session.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(ids)))
    return dict(rows.all())


def person_consent(
    request: Request,
    *,
    session: Session,
    state: WebState,
    person_id: str,
    form: ConsentForm | None = None,
) -> dict[str, Any]:
    """What the person page needs to show the person's consent and the form to record it."""
    version = current_version(session=session)
    policy = state.policy_cache.document(version) if version is not None else None
    history = history_for_person(session=session, person_id=person_id)
    current: list[CurrentConsent] = current_for_person(session=session, person_id=person_id)
    now = dt.datetime.now(dt.UTC)
    return {
        "consent_current": current,
        "consent_lapsed": {
            (c.purpose, c.channel)
            for c in current
            if c.state == ConsentState.GIVEN and c.expires_at and as_utc(c.expires_at) <= now
        },
        "consent_names": _names(policy),
        "consent_history": history,
        "consent_staff": _staff_names(session, history),
        "consent_receipts": _receipt_links(request, history),
        "consent_choices": consent_choices(policy),
        "consent_states": list(ConsentState),
        "consent_methods": STAFF_METHOD_NAMES,
        "consent_form": form or ConsentForm(),
        "consent_latest": now.strftime("%Y-%m-%dT%H:%M"),
    }


def _render_person(
    request: Request,
    *,
    session: Session,
    state: WebState,
    auth: Auth,
    person: Person,
    form: ConsentForm,
) -> Response:
    # The form comes back beside the person's data: showing it again is another view.
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="person.viewed",
        target_kind="person",
        target_id=person.id,
    )
    session.commit()
    context = {
        "page": "people",
        "person": person,
        "requests": requests_of_person(session=session, person_id=person.id),
        **names_context(),
        **person_consent(request, session=session, state=state, person_id=person.id, form=form),
    }
    return state.templates.TemplateResponse(
        request, "console/person.html", context, status_code=422
    )


def _moment(value: str, now: dt.datetime) -> dt.datetime | None:
    """When it happened, from a datetime-local field (read as UTC, as the console shows)."""
    if not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValue(
            "happened_at", "give a date and time, such as 2026-03-02T14:30"
        ) from None
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    if moment > now:
        raise InvalidValue("happened_at", "this is in the future")
    return moment


def _version_at(session: Session, moment: dt.datetime | None) -> PolicyVersion:
    """The policy in force when the consent was given: its wording is what the person heard."""
    if moment is None:
        version = current_version(session=session)
    else:
        version = session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.applied_at <= moment)
            .order_by(PolicyVersion.number.desc())
            .limit(1)
        ).first()
    if version is None:
        field_name = "happened_at" if moment is not None else "purpose_channel"
        raise InvalidValue(field_name, "no policy was in force then")
    return version


def _parse(
    values: dict[str, str], choices: list[Choice]
) -> tuple[Choice, ConsentState, CollectionMethod]:
    chosen = next((c for c in choices if c.value == values["purpose_channel"]), None)
    if chosen is None:
        raise InvalidValue("purpose_channel", "choose a purpose and channel from the list")
    try:
        consent_state = ConsentState(values["state"])
    except ValueError:
        raise InvalidValue("state", "choose given, withdrawn or refused") from None
    method = next((m for m in STAFF_METHODS if m.value == values["method"]), None)
    if method is None:
        raise InvalidValue("method", "choose phone, paper or email")
    if not values["evidence"].strip():
        raise InvalidValue("evidence", "describe the evidence: call notes, the form's reference")
    return chosen, consent_state, method


@router.post("/people/{person_id}/consent", name="console_person_consent")
def record_person_consent(
    request: Request,
    auth: PeopleWriter,
    state: StateDep,
    session: SessionDep,
    person_id: str,
    purpose_channel: Annotated[str, Form()] = "",
    consent_state: Annotated[str, Form(alias="state")] = "",
    method: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    happened_at: Annotated[str, Form()] = "",
) -> Response:
    person = get_person(session=session, person_id=person_id)
    values = {
        "purpose_channel": purpose_channel,
        "state": consent_state,
        "method": method,
        "evidence": evidence,
        "happened_at": happened_at,
    }
    form = ConsentForm(values=values)
    try:
        if auth.user is None:
            raise DomainError("consent taken by staff is recorded by a signed-in staff member")
        moment = _moment(happened_at, dt.datetime.now(dt.UTC))
        version = _version_at(session, moment)
        policy = state.policy_cache.document(version) if moment is None else version.policy()
        chosen, given_state, collection = _parse(values, consent_choices(policy))
        _, record = record_consent(
            session=session,
            keyring=state.keyring,
            policy=policy,
            policy_version=version.number,
            identities=[(identity.kind, identity.value) for identity in person.identities],
            purpose=chosen.purpose,
            channel=chosen.channel,
            state=given_state,
            proof=Proof(
                method=collection,
                source="console",
                staff_id=auth.user.id,
                evidence={"notes": evidence.strip()},
            ),
            now=moment,
        )
    except InvalidValue as exc:
        session.rollback()
        name = "purpose_channel" if exc.field in ("purpose", "channel") else exc.field
        if name in FORM_FIELDS:
            form.errors[name] = exc.detail
        else:
            form.message = exc.message
        return _render_person(
            request, session=session, state=state, auth=auth, person=person, form=form
        )
    except DomainError as exc:
        session.rollback()
        form.message = exc.message
        return _render_person(
            request, session=session, state=state, auth=auth, person=person, form=form
        )
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="consent.recorded",
        target_kind="person",
        target_id=person.id,
        details={
            "purpose": record.purpose,
            "channel": record.channel,
            "state": record.state,
            "method": record.method,
            "record_id": record.id,
        },
    )
    session.commit()
    return RedirectResponse(f"/console/people/{person.id}#consent-history", status_code=303)
