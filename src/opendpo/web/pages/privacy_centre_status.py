"""After the privacy centre's form: the code that proves the email address is the person's,
the request's status page (by the signed link in every letter), withdrawing it, and "lost your
link?", which emails the links again.

The code page and asking for a new code look nothing up. Asking for the links answers the
same whether or not the address has requests: the letter goes out after the response, and
only to an address a code has already proved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import workflow
from opendpo.rights.calendar import local_date
from opendpo.rights.kinds import (
    CLOSED,
    ICO_COMPLAINT,
    LABELS,
    REFUSAL_LABELS,
    STATUS_LABELS,
    RefusalReason,
    RequestKind,
    RequestStatus,
)
from opendpo.rights.letters import STATUS_LINK, Letter, LetterContext
from opendpo.rights.letters import render as render_letter
from opendpo.rights.records import Request as RightsRequest
from opendpo.rights.records import RequestEvent, RequestIdentity
from opendpo.rights.timeline import events
from opendpo.rights.verification import CodeNotSent, CodeRejected, check_code, issue_code
from opendpo.security.audit import as_utc
from opendpo.security.roles import Permission
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.web.auth import permit
from opendpo.web.dependencies import LettersDep, PolicyDep, SessionDep, StateDep
from opendpo.web.form_tokens import PUBLIC_FORMS
from opendpo.web.pages.email_form import email_form
from opendpo.web.pages.privacy_centre import (
    DETAIL_FIELDS,
    GROUNDS,
    VERIFY_LINK,
    private,
    request_from_link,
    send_after,
    subject,
)
from opendpo.web.pages.subscribe import render
from opendpo.web.public import limit_identity, public_limit
from opendpo.web.state import WebState
from opendpo.web.templating import long_date

router = APIRouter(
    include_in_schema=False,
    dependencies=[public_limit("privacy-centre"), permit(Permission.PUBLIC)],
)

Text = Annotated[str, Form()]
# Typing codes, and asking for them, has a tighter budget per address than reading pages.
CODE_LIMIT = public_limit("request-codes", setting="rate_limit_codes")

WITHDRAWN = "Withdrawn by the person on the privacy centre."
# Letters list at most this many requests: the most recent ones.
MAX_LINKS = 20
FIND_TEMPLATE = "centre/find.html"


def _unproved_emails(found: RightsRequest) -> list[RequestIdentity]:
    """The email addresses of the request that no code has proved yet."""
    return [
        i for i in found.identities if i.kind == IdentityKind.EMAIL.value and i.verified_at is None
    ]


def _verify_page(
    request: Request,
    state: WebState,
    policy: PolicyDocument,
    found: RightsRequest,
    token: str,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    settings = state.settings
    waiting = RequestStatus(found.status) not in CLOSED and bool(_unproved_emails(found))
    return private(
        render(
            request,
            state,
            policy,
            "centre/verify.html",
            status=status,
            token=token,
            reference=found.reference,
            kind_label=LABELS[RequestKind(found.kind)],
            waiting=waiting,
            error=error,
            notice=notice,
            # Only a demo shows where its mail went; a real server never names its folders.
            outbox=str(settings.outbox_path.resolve())
            if settings.demo and not settings.smtp_host
            else None,
        )
    )


@router.get("/privacy-centre/verify/{token}", name="privacy_centre_verify")
def verify_form(
    request: Request, token: str, state: StateDep, session: SessionDep, policy: PolicyDep
) -> Response:
    found = request_from_link(state, session, VERIFY_LINK, token)
    return _verify_page(request, state, policy, found, token)


@router.post("/privacy-centre/verify/{token}", dependencies=[CODE_LIMIT])
def verify(
    request: Request,
    token: str,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    letters: LettersDep,
    background: BackgroundTasks,
    csrf_token: Text = "",
    code: Text = "",
) -> Response:
    found = request_from_link(state, session, VERIFY_LINK, token)
    PUBLIC_FORMS.check(request, csrf_token)
    limit_identity(state, "request-code", found.id)
    try:
        owed = check_code(
            session=session,
            keyring=state.keyring,
            request=found,
            code=code,
            actor=subject(request),
            context=letters,
        )
    except CodeRejected as exc:
        session.commit()  # the failed attempt counts towards the code's limit
        return _verify_page(request, state, policy, found, token, status=422, error=exc.message)
    session.commit()
    send_after(background, state, owed)
    return RedirectResponse(status_path(letters, found), status_code=303)


def status_path(letters: LetterContext, found: RightsRequest) -> str:
    return urlsplit(letters.status_url(found)).path


@router.post("/privacy-centre/verify/{token}/resend", dependencies=[CODE_LIMIT])
def resend(
    request: Request,
    token: str,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    letters: LettersDep,
    background: BackgroundTasks,
    csrf_token: Text = "",
) -> Response:
    found = request_from_link(state, session, VERIFY_LINK, token)
    PUBLIC_FORMS.check(request, csrf_token)
    owed: list[Letter] = []
    refusals: list[str] = []
    pending = _unproved_emails(found)
    for identity in pending:
        try:
            owed.append(
                issue_code(
                    session=session,
                    keyring=state.keyring,
                    request=found,
                    identity=identity,
                    actor=subject(request),
                    context=letters,
                )
            )
        except CodeNotSent as exc:
            refusals.append(exc.message)
    session.commit()
    send_after(background, state, owed)
    if refusals or not pending:
        refused = refusals[0] if refusals else "This request no longer needs a code."
        return _verify_page(request, state, policy, found, token, status=409, notice=refused)
    notice = "We have emailed you a new code. Codes sent before it no longer work."
    return _verify_page(request, state, policy, found, token, notice=notice)


@dataclass(frozen=True)
class Step:
    """One public line of the timeline, in plain words."""

    at: dt.datetime
    text: str
    detail: str | None = None


def describe(event: RequestEvent) -> Step:
    """What a public event means to the person who asked."""
    message = event.message
    at = as_utc(event.at)
    if event.kind == "received":
        return Step(at, "We received your request.")
    if event.kind == "status" and event.to_status:
        to = RequestStatus(event.to_status)
        # A closing status carries its reason (the refusal, the withdrawal); others say no more.
        return Step(at, f"Status: {STATUS_LABELS[to]}.", message if to in CLOSED else None)
    if event.kind == "extended":
        months = event.data.get("months", 1)
        plural = "month" if months == 1 else "months"
        return Step(at, f"We need {months} more {plural} to answer, because:", message)
    if event.kind == "paused":
        text = "We asked you a question, and wait for your answer before we carry on:"
        return Step(at, text, message)
    if event.kind == "resumed":
        return Step(at, "Thank you for your answer: we are working on your request again.")
    return Step(at, event.kind.replace("_", " ").capitalize() + ".", message)


def asked(found: RightsRequest) -> list[tuple[str, str]]:
    """(question, answer) of what the person wrote in the form."""
    grounds = dict(GROUNDS)
    rows = []
    if found.details.get("name"):
        rows.append(("Your name", str(found.details["name"])))
    for name, field in DETAIL_FIELDS.items():
        value = found.details.get(name)
        if value:
            rows.append((field.label, grounds.get(str(value), str(value))))
    return rows


@router.get("/privacy-centre/requests/{token}", name="privacy_centre_status")
def status_page(
    request: Request, token: str, state: StateDep, session: SessionDep, policy: PolicyDep
) -> Response:
    found = request_from_link(state, session, STATUS_LINK, token)
    status = RequestStatus(found.status)
    refusal = REFUSAL_LABELS[RefusalReason(found.refusal_reason)] if found.refusal_reason else None
    timeline = [describe(e) for e in events(session=session, request_id=found.id, public_only=True)]
    # Codes prove email addresses only: anything else waits for staff to check it.
    unconfirmed = [
        "telephone number" if i.kind == IdentityKind.PHONE.value else i.kind
        for i in found.identities
        if i.verified_at is None and i.kind != IdentityKind.EMAIL.value
    ]
    return private(
        render(
            request,
            state,
            policy,
            "centre/status.html",
            token=token,
            reference=found.reference,
            kind_label=LABELS[RequestKind(found.kind)],
            asked=asked(found),
            status_key=status.value,
            status_label=STATUS_LABELS[status],
            is_open=status not in CLOSED,
            received_on=local_date(found.received_at),
            due_on=found.due_on,
            extended=found.extended_months,
            timeline=timeline,
            response_text=found.response if status in CLOSED else None,
            refusal=refusal if status is RequestStatus.REFUSED else None,
            ico=ICO_COMPLAINT,
            unconfirmed=unconfirmed,
        )
    )


@router.get("/privacy-centre/requests/{token}/cancel", name="privacy_centre_cancel")
def cancel_form(
    request: Request, token: str, state: StateDep, session: SessionDep, policy: PolicyDep
) -> Response:
    found = request_from_link(state, session, STATUS_LINK, token)
    return private(
        render(
            request,
            state,
            policy,
            "centre/cancel.html",
            token=token,
            reference=found.reference,
            kind_label=LABELS[RequestKind(found.kind)],
            is_open=RequestStatus(found.status) not in CLOSED,
        )
    )


@router.post("/privacy-centre/requests/{token}/cancel")
def cancel(
    request: Request,
    token: str,
    state: StateDep,
    session: SessionDep,
    letters: LettersDep,
    background: BackgroundTasks,
    csrf_token: Text = "",
) -> Response:
    found = request_from_link(state, session, STATUS_LINK, token)
    PUBLIC_FORMS.check(request, csrf_token)
    owed = workflow.cancel(
        session=session, request=found, actor=subject(request), reason=WITHDRAWN, context=letters
    )
    session.commit()
    send_after(background, state, owed)
    return RedirectResponse(status_path(letters, found), status_code=303)


@router.get("/privacy-centre/find", name="privacy_centre_find")
def find_form(request: Request, state: StateDep, policy: PolicyDep) -> Response:
    return email_form(request, state, policy, FIND_TEMPLATE)


def verified_requests(*, session: Session, blind_index: str) -> list[RightsRequest]:
    """Requests an email identity with this blind index was proved for, newest first."""
    return list(
        session.scalars(
            select(RightsRequest)
            .join(RequestIdentity, RequestIdentity.request_id == RightsRequest.id)
            .where(
                RequestIdentity.kind == IdentityKind.EMAIL.value,
                RequestIdentity.blind_index == blind_index,
                RequestIdentity.verified_at.is_not(None),
            )
            .order_by(RightsRequest.received_at.desc())
            .limit(MAX_LINKS)
        ).unique()
    )


@router.post("/privacy-centre/find")
def find(
    request: Request,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    letters: LettersDep,
    background: BackgroundTasks,
    csrf_token: Text = "",
    email: Text = "",
) -> Response:
    PUBLIC_FORMS.check(request, csrf_token)
    try:
        normal = normalise(IdentityKind.EMAIL, email, field="email")
    except InvalidValue as exc:
        return email_form(request, state, policy, FIND_TEMPLATE, email=email, error=exc)
    # Counted before the look-up, so known and unknown addresses run out alike.
    limit_identity(state, "request-find", normal)
    found = verified_requests(
        session=session, blind_index=state.keyring.blind_index(IdentityKind.EMAIL.value, normal)
    )
    if found:
        send_after(background, state, [status_links(letters, normal, found)])
    return render(request, state, policy, "centre/find_sent.html")


def status_links(letters: LetterContext, to: str, found: list[RightsRequest]) -> Letter:
    """One letter with the status link of each request found."""
    links = [
        {
            "reference": r.reference,
            "kind_label": LABELS[RequestKind(r.kind)],
            "status_label": STATUS_LABELS[RequestStatus(r.status)],
            "received_on": long_date(local_date(r.received_at)),
            "url": letters.status_url(r),
        }
        for r in found
    ]
    # The newest request heads the letter; the template lists every one.
    return render_letter("status_links", to=to, request=found[0], context=letters, links=links)
