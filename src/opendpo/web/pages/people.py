"""People in the console: find a person by one of their identities, and see what is held.

Every staff read of personal data goes to the audit log (DESIGN: rules of the house), in the
same transaction and committed before the page is rendered: if the entry cannot be written,
nothing is shown. Entries name the person by id and the identity by kind, never by value.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from opendpo.errors import InvalidValue
from opendpo.rights.queue import requests_of_person
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.subjects.people import find_person, get_person
from opendpo.web.auth import PeopleReader, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages.consent_console import person_consent
from opendpo.web.pages.request_queue import names_context

router = APIRouter(prefix="/console", include_in_schema=False)

PERSON_TARGET = "person"


def _lookup_page(request: Request, state: StateDep, *, status: int = 200, **extra: Any) -> Response:
    context: dict[str, Any] = {
        "page": "people",
        "kinds": list(IdentityKind),
        "values": {"kind": IdentityKind.EMAIL.value, "value": ""},
        "errors": {},
        "not_found": False,
        **extra,
    }
    return state.templates.TemplateResponse(
        request, "console/people.html", context, status_code=status
    )


@router.get("/people", name="console_people")
def people_lookup_form(request: Request, auth: PeopleReader, state: StateDep) -> Response:
    return _lookup_page(request, state)


# A POST, not a GET form: the value looked up would otherwise sit in the address bar, the
# browser's history and any proxy's log.
@router.post("/people", name="console_people_lookup")
def people_lookup(
    request: Request,
    auth: PeopleReader,
    state: StateDep,
    session: SessionDep,
    kind: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    values = {"kind": kind, "value": value}
    try:
        try:
            identity_kind = IdentityKind(kind)
        except ValueError:
            choices = ", ".join(k.value for k in IdentityKind)
            raise InvalidValue("kind", f"choose one of {choices}") from None
        normal = normalise(identity_kind, value, field="value")
    except InvalidValue as exc:
        errors = {exc.field: exc.detail}
        return _lookup_page(request, state, status=422, values=values, errors=errors)
    person = find_person(session=session, keyring=state.keyring, kind=identity_kind, value=normal)
    # The lookup is audited whether or not it finds anyone: asking is itself a use of the value.
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="person.looked_up",
        target_kind=PERSON_TARGET if person is not None else None,
        target_id=person.id if person is not None else None,
        details={"kind": identity_kind.value, "found": person is not None},
    )
    session.commit()
    if person is None:
        return _lookup_page(request, state, values=values, not_found=True)
    return RedirectResponse(f"/console/people/{person.id}", status_code=303)


@router.get("/people/{person_id}", name="console_person")
def person_page(
    request: Request, auth: PeopleReader, state: StateDep, session: SessionDep, person_id: str
) -> Response:
    person = get_person(session=session, person_id=person_id)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="person.viewed",
        target_kind=PERSON_TARGET,
        target_id=person.id,
    )
    session.commit()
    # The person's consent is part of what this view shows, and of what its entry records.
    consent = person_consent(request, session=session, state=state, person_id=person.id)
    context = {
        "page": "people",
        "person": person,
        "requests": requests_of_person(session=session, person_id=person.id),
        **names_context(),
        **consent,
    }
    return state.templates.TemplateResponse(request, "console/person.html", context)
