"""The public preference centre: asked for by email, opened by a signed link, where a person
sees every consent purpose, channel and cookie category and answers yes or no to each.

Saying no takes the same one click and the same save as saying yes. Asking for a link answers
the same, byte for byte, whether the address is known or not.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.consent.ledger import Channel, CollectionMethod, ConsentRecord, current_for_person
from opendpo.consent.receipt_mail import email_of, send_receipt
from opendpo.consent.receipts import receipt_for
from opendpo.consent.service import record_consent
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.errors import LinkInvalid
from opendpo.security.roles import Permission
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.subjects.people import Person, find_person
from opendpo.web import gpc
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, PolicyVersionDep, SessionDep, StateDep
from opendpo.web.form_tokens import PUBLIC_FORMS
from opendpo.web.pages.consent_choices import (
    Answer,
    Preference,
    changes,
    preferences_for,
    request_proof,
)
from opendpo.web.pages.consent_mail import LINK_DAYS, send_link, send_quietly
from opendpo.web.pages.email_form import email_form
from opendpo.web.pages.subscribe import render
from opendpo.web.public import limit_identity, public_limit
from opendpo.web.state import WebState

SOURCE = "/preferences"
# The page holds a person's choices and its address is their key: no copy kept anywhere.
PRIVATE = {"cache-control": "no-store"}

router = APIRouter(
    include_in_schema=False,
    dependencies=[public_limit("preferences"), permit(Permission.PUBLIC)],
)

Text = Annotated[str, Form()]
ASK_TEMPLATE = "preferences_ask.html"


@router.get("/preferences", name="preferences_ask")
def ask_form(request: Request, state: StateDep, policy: PolicyDep) -> Response:
    return email_form(request, state, policy, ASK_TEMPLATE)


@router.post("/preferences")
def ask(
    request: Request,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    background: BackgroundTasks,
    csrf_token: Text = "",
    email: Text = "",
) -> Response:
    PUBLIC_FORMS.check(request, csrf_token)
    try:
        normal = normalise(IdentityKind.EMAIL, email, field="email")
    except InvalidValue as exc:
        return email_form(request, state, policy, ASK_TEMPLATE, email=email, error=exc)
    # Counted before the look-up, so known and unknown addresses run out alike.
    limit_identity(state, "preferences", normal)
    person = find_person(
        session=session, keyring=state.keyring, kind=IdentityKind.EMAIL, value=normal
    )
    if person is not None:
        send_link(background, state, policy, to=normal, person_id=person.id)
    return render(request, state, policy, "preferences_sent.html", lifetime_days=LINK_DAYS)


def person_from_link(state: WebState, session: Session, token: str) -> Person:
    """The person a preferences link was made for; LinkInvalid if it is bad or they are gone."""
    payload = state.links.load("preferences", token)
    person_id = payload.get("p") if isinstance(payload, dict) else None
    person = session.get(Person, person_id) if isinstance(person_id, str) else None
    if person is None or not person.identities:
        raise LinkInvalid()
    return person


def _centre(
    request: Request,
    state: WebState,
    policy: PolicyDocument,
    preferences: list[Preference],
    **context: Any,
) -> Response:
    context.setdefault("saved", None)
    context.setdefault("receipt_sent", False)
    response = render(
        request,
        state,
        policy,
        "preferences.html",
        contact=[p for p in preferences if p.choice.channel is not Channel.COOKIE],
        cookies=[p for p in preferences if p.choice.channel is Channel.COOKIE],
        receipts=True,
        **context,
    )
    response.headers.update(PRIVATE)
    return response


@router.get("/preferences/{token}", name="preference_centre")
def centre(
    request: Request, token: str, state: StateDep, session: SessionDep, policy: PolicyDep
) -> Response:
    person = person_from_link(state, session, token)
    preferences = preferences_for(
        session=session, policy=policy, person_id=person.id, gpc=gpc.sent_gpc(request)
    )
    return _centre(request, state, policy, preferences, token=token)


@router.post("/preferences/{token}")
async def save(
    request: Request,
    token: str,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    version: PolicyVersionDep,
) -> Response:
    person = person_from_link(state, session, token)  # a bad link is a 400 before anything
    form = await request.form()
    submitted = {k: v for k, v in form.items() if isinstance(v, str)}
    PUBLIC_FORMS.check(request, submitted.get("csrf_token", ""))
    sent_gpc = gpc.sent_gpc(request)
    preferences = preferences_for(session=session, policy=policy, person_id=person.id, gpc=sent_gpc)
    first = person.identities[0]
    identities = [(first.kind, first.value)]
    proof = request_proof(
        request, method=CollectionMethod.PREFERENCE_CENTRE, source=SOURCE, gpc=sent_gpc
    )
    found = changes(preferences, submitted)
    for choice, answer in found:
        record_consent(
            session=session,
            keyring=state.keyring,
            policy=policy,
            policy_version=version.number,
            identities=identities,
            purpose=choice.purpose,
            channel=choice.channel.value,
            state=answer,
            proof=proof,
            wording=choice.label,
        )
    if sent_gpc:
        gpc.record_refusals(
            session=session,
            keyring=state.keyring,
            policy=policy,
            policy_version=version.number,
            person_id=person.id,
            identities=identities,
            proof=gpc.signal_proof(request, source=SOURCE),
            chosen={
                p.choice.purpose
                for p in preferences
                if p.choice.channel is Channel.COOKIE and submitted.get(p.choice.key) == Answer.YES
            },
        )
    session.commit()
    saved = [(choice.label, answer.value) for choice, answer in found]
    refreshed = preferences_for(session=session, policy=policy, person_id=person.id, gpc=sent_gpc)
    return _centre(request, state, policy, refreshed, token=token, saved=saved)


@router.post("/preferences/{token}/receipt", name="preference_receipts")
async def email_receipts(
    request: Request,
    token: str,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    background: BackgroundTasks,
) -> Response:
    """Email the person a consent receipt for each of their current answers."""
    person = person_from_link(state, session, token)
    form = await request.form()
    sent = form.get("csrf_token")
    PUBLIC_FORMS.check(request, sent if isinstance(sent, str) else "")
    address = email_of(person)
    for current in current_for_person(session=session, person_id=person.id):
        record = session.get_one(ConsentRecord, current.record_seq)
        issued = receipt_for(session=session, settings=state.settings, record_id=record.id)
        background.add_task(
            send_quietly,
            partial(send_receipt, mailer=state.mailer, to=address, document=issued.document),
        )
    preferences = preferences_for(
        session=session, policy=policy, person_id=person.id, gpc=gpc.sent_gpc(request)
    )
    return _centre(request, state, policy, preferences, token=token, receipt_sent=True)
