"""The public privacy centre: what each right means, and the request form.

Nothing here looks anyone up: the form answers alike, byte for byte bar the request's own
random tokens, whether the address is on file or not. The code, following a request and
the lost-link form are in `privacy_centre_status`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.errors import InvalidValue
from opendpo.mail.sender import Mailer, MailNotSent
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import letters as rights_letters
from opendpo.rights.intake import COMMON_FIELDS, KIND_FIELDS, parse_kind, submit_request
from opendpo.rights.kinds import (
    LABELS,
    POLICY_RIGHT,
    ObjectionGround,
    RequestChannel,
    RequestKind,
)
from opendpo.rights.letters import Letter
from opendpo.rights.records import Request as RightsRequest
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.errors import LinkInvalid
from opendpo.security.roles import Permission
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.web.auth import permit
from opendpo.web.dependencies import LettersDep, PolicyDep, SessionDep, StateDep
from opendpo.web.form_tokens import PUBLIC_FORMS
from opendpo.web.pages.notice_view import notice_view
from opendpo.web.pages.subscribe import render
from opendpo.web.public import UNKNOWN_ADDRESS, limit_identity, public_limit
from opendpo.web.state import WebState

logger = logging.getLogger("opendpo.web.privacy_centre")

VERIFY_LINK = "request-verify"
# Pages that name a request are opened by a link that is its key: no copy kept anywhere.
PRIVATE = {"cache-control": "no-store"}

router = APIRouter(
    include_in_schema=False,
    dependencies=[public_limit("privacy-centre"), permit(Permission.PUBLIC)],
)

Text = Annotated[str, Form()]


@dataclass(frozen=True)
class Field:
    """A detail field of the request form, in the person's words."""

    name: str
    label: str
    hint: str
    widget: str = "textarea"  # textarea, url or radio
    required: bool = False


DETAIL_FIELDS: dict[str, Field] = {
    "corrections": Field(
        "corrections",
        "What is wrong, and what should it say instead?",
        "For example: my job title is wrong; it should say Head of Finance.",
    ),
    "ground": Field(
        "ground",
        "Why do you object?",
        "If you object to direct marketing we always stop: you do not need to give a reason. "
        "For the other uses we weigh your reasons against ours and tell you what we decide.",
        widget="radio",
    ),
    "destination": Field(
        "destination",
        "Send my data straight to another organisation at this web address",
        "Only if that organisation gave you an address starting with https://. "
        "Leave it empty and we send the data to you.",
        widget="url",
    ),
    "decision": Field(
        "decision",
        "Which decision should a person look at again?",
        "Say what was decided and roughly when.",
    ),
    "complaint": Field(
        "complaint",
        "What is your complaint?",
        "Tell us what happened and what you would like us to do about it.",
    ),
    "purposes": Field(
        "purposes",
        "What do you no longer agree to?",
        "Leave it empty to withdraw every consent you have given us.",
    ),
    "grounds": Field(
        "grounds",
        "Why should we stop using your data for now?",
        "For example: the data is wrong and you want us to stop using it while we check.",
    ),
    "description": Field(
        "description",
        "Anything else that helps us?",
        "For example: other names or addresses you used with us, or dates that matter.",
    ),
}

GROUNDS: list[tuple[str, str]] = [
    (ObjectionGround.DIRECT_MARKETING.value, "Direct marketing: stop sending me marketing"),
    (ObjectionGround.LEGITIMATE_INTERESTS.value, "How you use my data for your own interests"),
    (ObjectionGround.RESEARCH.value, "Using my data for research or statistics"),
]

# What the form calls each field that submit_request names otherwise.
IDENTITY_FIELDS = {"identities": "email", "identities[0].value": "email"}


def request_fields(kind: RequestKind) -> list[Field]:
    """The detail fields of this kind's form, in order, with what intake requires."""
    wanted = {**KIND_FIELDS.get(kind, {}), "description": COMMON_FIELDS["description"]}
    return [
        Field(f.name, f.label, f.hint, widget=f.widget, required=wanted[f.name])
        for f in DETAIL_FIELDS.values()
        if f.name in wanted
    ]


def kinds_for(right: str | None) -> list[tuple[str, str]]:
    """(kind, label) of the requests that exercise a right of the notice (None: always)."""
    return [(kind.value, LABELS[kind]) for kind, key in POLICY_RIGHT.items() if key == right]


def subject(request: Request) -> Actor:
    address = request.client.host if request.client else UNKNOWN_ADDRESS
    return Actor(ActorKind.SUBJECT, address=address)


def _send_quietly(mailer: Mailer, letters: list[Letter]) -> None:
    try:
        rights_letters.send(mailer, letters)
    except MailNotSent as exc:
        # The server's answer only: never the address. The person can ask for a new code.
        logger.error("a letter about a request was not sent: %s", exc.message)


def send_after(background: BackgroundTasks, state: WebState, letters: list[Letter]) -> None:
    """Send letters after the response, once committed: how long a mail server takes never
    shows in the answer, and a server that is down never undoes a request received."""
    if letters:
        background.add_task(_send_quietly, state.mailer, letters)


def request_from_link(state: WebState, session: Session, purpose: str, token: str) -> RightsRequest:
    """The request a signed link names; LinkInvalid for a bad link or a request not found."""
    payload = state.links.load(purpose, token)
    request_id = payload.get("request") if isinstance(payload, dict) else None
    found = session.get(RightsRequest, request_id) if isinstance(request_id, str) else None
    if found is None:
        raise LinkInvalid()
    return found


def private(response: Response) -> Response:
    response.headers.update(PRIVATE)
    return response


@router.get("/privacy-centre", name="privacy_centre")
def overview(request: Request, state: StateDep, policy: PolicyDep) -> Response:
    view = notice_view(policy)
    rights = [(right, kinds_for(right.key)) for right in policy.rights.available]
    return render(
        request,
        state,
        policy,
        "centre/overview.html",
        rights=rights,
        always=kinds_for(None),
        document=policy,
        routes=view.routes_for("rights_requests"),
        complaint_routes=view.routes_named(policy.rights.complaints.routes),
        withdrawal_routes=view.routes_for("consent_withdrawal"),
    )


def _form(
    request: Request,
    state: WebState,
    policy: PolicyDocument,
    kind: RequestKind,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        state,
        policy,
        "centre/request_form.html",
        status=status,
        kind=kind.value,
        kind_label=LABELS[kind],
        fields=request_fields(kind),
        grounds=GROUNDS,
        errors=errors or {},
        values=values or {},
    )


@router.get("/privacy-centre/requests/new", name="privacy_centre_form")
def request_form(
    request: Request, state: StateDep, policy: PolicyDep, kind: Annotated[str, Query()] = ""
) -> Response:
    if not kind:  # no right chosen yet: the overview lists them all
        return RedirectResponse("/privacy-centre#rights", status_code=303)
    return _form(request, state, policy, parse_kind(kind, policy))


def form_error(exc: InvalidValue, *, phone_position: int | None) -> tuple[str, str]:
    """(form field, message) for what submit_request refused."""
    name = IDENTITY_FIELDS.get(exc.field, exc.field.removeprefix("details."))
    if phone_position is not None and exc.field.startswith(f"identities[{phone_position}]"):
        name = "phone"
    if name == "email":
        return name, f"Enter your email address, like name@example.com ({exc.detail})."
    if name == "phone":
        return name, f"Enter a telephone number, like 020 7946 0000 ({exc.detail})."
    field = DETAIL_FIELDS.get(name)
    label = field.label.rstrip("?") if field else name.capitalize()
    if name == "name":
        label = "Your name"
    return name, f"{label}: {exc.detail}."


@router.post("/privacy-centre/requests/new")
def submit(
    request: Request,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    letters: LettersDep,
    background: BackgroundTasks,
    kind: Annotated[str, Query()] = "",
    csrf_token: Text = "",
    name: Text = "",
    email: Text = "",
    phone: Text = "",
    corrections: Text = "",
    ground: Text = "",
    destination: Text = "",
    decision: Text = "",
    complaint: Text = "",
    purposes: Text = "",
    grounds: Text = "",
    description: Text = "",
) -> Response:
    chosen = parse_kind(kind, policy)  # the address names the form before anything is read
    PUBLIC_FORMS.check(request, csrf_token)
    given = {
        "corrections": corrections,
        "ground": ground,
        "destination": destination,
        "decision": decision,
        "complaint": complaint,
        "purposes": purposes,
        "grounds": grounds,
        "description": description,
    }
    values = {"name": name, "email": email, "phone": phone, **given}
    details = {"name": name, **{f.name: given[f.name] for f in request_fields(chosen)}}
    identities = [(IdentityKind.EMAIL.value, email)]
    if phone.strip():
        identities.append((IdentityKind.PHONE.value, phone))
    try:
        # Counted before anything is stored, per address as typed in its normal form.
        limit_identity(state, "request", normalise(IdentityKind.EMAIL, email, field="email"))
        created, owed = submit_request(
            session=session,
            keyring=state.keyring,
            policy=policy,
            kind=chosen.value,
            identities=identities,
            details=details,
            channel=RequestChannel.PRIVACY_CENTRE,
            actor=subject(request),
            context=letters,
        )
    except InvalidValue as exc:
        session.rollback()
        field, message = form_error(exc, phone_position=1 if len(identities) > 1 else None)
        errors = {field: message}
        return _form(request, state, policy, chosen, status=422, errors=errors, values=values)
    session.commit()
    send_after(background, state, owed)
    token = state.links.sign(VERIFY_LINK, {"request": created.id})
    return RedirectResponse(f"/privacy-centre/verify/{token}", status_code=303)
