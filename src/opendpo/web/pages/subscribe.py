"""The public opt-in form: one unticked box per consent purpose and channel, in the policy's
words; what is ticked is recorded as given, with the proof of how, and confirmed by email.

The answer is the same page whether the address was known before or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from starlette.responses import Response

from opendpo.consent.ledger import CollectionMethod, ConsentState
from opendpo.consent.service import record_consent
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.roles import Permission
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.subjects.people import Subscriber
from opendpo.web import gpc
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, PolicyVersionDep, SessionDep, StateDep
from opendpo.web.form_tokens import PUBLIC_FORMS
from opendpo.web.pages.consent_choices import Choice, consent_choices, request_proof
from opendpo.web.pages.consent_mail import send_confirmation
from opendpo.web.public import limit_identity, public_limit
from opendpo.web.state import WebState

SOURCE = "/subscribe"
MAX_TEXT = 200

# PECR: sole traders and partnerships are individual subscribers, like private persons.
CONTACTING_AS: dict[str, tuple[str, Subscriber]] = {
    "individual": ("An individual", Subscriber.INDIVIDUAL),
    "sole_trader": ("A sole trader or partnership", Subscriber.INDIVIDUAL),
    "organisation": ("A company or other organisation", Subscriber.CORPORATE),
}

# The form has its own budget per address, apart from the notice's.
router = APIRouter(
    include_in_schema=False, dependencies=[public_limit("subscribe"), permit(Permission.PUBLIC)]
)

Text = Annotated[str, Form()]


def render(
    request: Request,
    state: WebState,
    policy: PolicyDocument,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """A public consent page, with the form token its forms carry."""
    token = PUBLIC_FORMS.current(request)
    response = state.templates.TemplateResponse(
        request,
        f"privacy/{template}",
        {"controller": policy.controller.display_name, "csrf_token": token, **context},
        status_code=status,
    )
    PUBLIC_FORMS.attach(response, state.settings, token)
    return response


def _form(
    request: Request,
    state: WebState,
    policy: PolicyDocument,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Response:
    return render(
        request,
        state,
        policy,
        "subscribe.html",
        status=status,
        errors=dict(errors or {}),
        values=dict(values or {}),
        choices=consent_choices(policy),
        contacting_as=[(key, text) for key, (text, _) in CONTACTING_AS.items()],
    )


@router.get("/subscribe", name="subscribe_form")
def subscribe_form(request: Request, state: StateDep, policy: PolicyDep) -> Response:
    return _form(request, state, policy)


def check_form(
    policy: PolicyDocument,
    *,
    email: str,
    name: str,
    organisation: str,
    contacting_as: str,
    consent: Sequence[str],
) -> tuple[dict[str, str], str, list[Choice]]:
    """What is wrong with the form, field by field; the normal email; the choices ticked."""
    errors: dict[str, str] = {}
    normal = ""
    try:
        normal = normalise(IdentityKind.EMAIL, email, field="email")
    except InvalidValue as exc:
        errors["email"] = f"Enter your email address, like name@example.com ({exc.detail})."
    for field, value in (("name", name), ("organisation", organisation)):
        if len(value) > MAX_TEXT:
            errors[field] = f"Use at most {MAX_TEXT} characters."
    if contacting_as and contacting_as not in CONTACTING_AS:
        errors["contacting_as"] = "Choose one of the options given."
    offered = {choice.key: choice for choice in consent_choices(policy)}
    unknown = [key for key in consent if key not in offered]
    ticked = [offered[key] for key in dict.fromkeys(consent) if key in offered]
    if unknown:
        errors["consent"] = "Choose only from the ways listed."
    elif not ticked:
        errors["consent"] = "Tick at least one way we may contact you."
    return errors, normal, ticked


def declared_subscriber(current: str, declared: str) -> str:
    """The subscriber type to keep after a form that is not yet verified.

    Anyone can type someone else's address into the form, so it may make the rules stricter
    (corporate to individual) but not looser: a corporate declaration counts only for a person
    whose type is not yet known.
    """
    if not declared:
        return current
    chosen = CONTACTING_AS[declared][1]
    if chosen is Subscriber.INDIVIDUAL or current == Subscriber.UNKNOWN:
        return chosen.value
    return current


@router.post("/subscribe", name="subscribe")
def subscribe(
    request: Request,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    version: PolicyVersionDep,
    background: BackgroundTasks,
    csrf_token: Text = "",
    email: Text = "",
    name: Text = "",
    organisation: Text = "",
    contacting_as: Text = "",
    consent: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    PUBLIC_FORMS.check(request, csrf_token)
    name, organisation = name.strip(), organisation.strip()
    errors, normal, ticked = check_form(
        policy,
        email=email,
        name=name,
        organisation=organisation,
        contacting_as=contacting_as,
        consent=consent,
    )
    if errors:
        values = {
            "email": email,
            "name": name,
            "organisation": organisation,
            "contacting_as": contacting_as,
            "consent": consent,
        }
        return _form(request, state, policy, status=422, errors=errors, values=values)
    limit_identity(state, "subscribe", normal)
    sent_gpc = gpc.sent_gpc(request)
    evidence: dict[str, Any] = {"gpc": sent_gpc}
    if contacting_as:
        evidence["contacting_as"] = contacting_as
    if organisation:
        evidence["organisation"] = organisation
    proof = request_proof(request, method=CollectionMethod.WEB_FORM, source=SOURCE, **evidence)
    identities = [(IdentityKind.EMAIL.value, normal)]
    person = None
    for choice in ticked:
        person, _ = record_consent(
            session=session,
            keyring=state.keyring,
            policy=policy,
            policy_version=version.number,
            identities=identities,
            purpose=choice.purpose,
            channel=choice.channel.value,
            state=ConsentState.GIVEN,
            proof=proof,
            name=name or None,
            wording=choice.label,  # what the box said, word for word
        )
    assert person is not None  # check_form insists on at least one box
    person.subscriber = declared_subscriber(person.subscriber, contacting_as)
    if sent_gpc:
        gpc.record_refusals(
            session=session,
            keyring=state.keyring,
            policy=policy,
            policy_version=version.number,
            person_id=person.id,
            identities=identities,
            proof=gpc.signal_proof(request, source=SOURCE),
        )
    session.commit()
    agreed = [choice.label for choice in ticked]
    send_confirmation(background, state, policy, to=normal, person_id=person.id, agreed=agreed)
    return render(request, state, policy, "subscribe_done.html", agreed=agreed)
