"""One-click unsubscribe (RFC 8058): `/u/{token}` from the List-Unsubscribe header.

A GET only shows a confirmation page with one button: mail scanners and link previews fetch
every link in an email, and must not unsubscribe anyone. The POST — from a mailbox provider's
one-click button or from that page — takes effect at once and answers 200 with no redirect.
It needs no cookie, login or CSRF token: the signed token is the credential, and the worst a
forged request can do is what the link's owner asked for anyway.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from opendpo.consent.campaigns import read_token, unsubscribe
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.roles import Permission
from opendpo.web.auth import client_address, permit
from opendpo.web.dependencies import PolicyDep, PolicyVersionDep, SessionDep, StateDep
from opendpo.web.public import public_limit

# A budget of its own: a person's privacy-centre visits must not use up their unsubscribe.
router = APIRouter(
    include_in_schema=False,
    dependencies=[
        public_limit("unsubscribe", setting="rate_limit_unsubscribe"),
        permit(Permission.PUBLIC),
    ],
)


def _purpose_name(policy: PolicyDocument, purpose: str) -> str:
    found = next((p for p in policy.purposes if p.key == purpose), None)
    return found.name if found is not None else purpose


@router.get("/u/{token}", name="unsubscribe_confirm")
def unsubscribe_confirm(
    request: Request, state: StateDep, policy: PolicyDep, token: str
) -> Response:
    _index, purpose, _channel = read_token(state.links, token)  # LinkInvalid: a 400 page
    return state.templates.TemplateResponse(
        request,
        "privacy/unsubscribe.html",
        {"controller": policy.controller, "purpose_name": _purpose_name(policy, purpose)},
    )


@router.post("/u/{token}", name="unsubscribe_one_click")
def unsubscribe_one_click(
    request: Request,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    version: PolicyVersionDep,
    token: str,
) -> Response:
    # The body (List-Unsubscribe=One-Click) is not required: a provider that sends the POST
    # some other way still means "unsubscribe", and the token alone says from what.
    index, purpose, channel = read_token(state.links, token)
    try:
        unsubscribe(
            session=session,
            keyring=state.keyring,
            policy=policy,
            policy_version=version.number,
            blind_index=index,
            purpose=purpose,
            channel=channel,
            client_address=client_address(request),
            user_agent=request.headers.get("user-agent"),
        )
        session.commit()
    except IntegrityError:
        # The same unsubscribe, posted twice at once, won the race: it is done either way.
        session.rollback()
    return state.templates.TemplateResponse(
        request,
        "privacy/unsubscribe_done.html",
        {"controller": policy.controller, "purpose_name": _purpose_name(policy, purpose)},
    )
