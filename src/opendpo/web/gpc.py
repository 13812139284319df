"""Global Privacy Control: the browser's `Sec-GPC: 1`, noticed on every request and honoured.

GpcMiddleware sets `request.state.gpc` on every request. When a person sends one of our forms
with the signal, it is recorded as a refusal of each cookie category that is not strictly
necessary (if the policy honours GPC), and decisions made for that request are told of it.
`/.well-known/gpc.json` tells crawlers and browsers that this site honours the signal.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from opendpo.consent.ledger import Channel, CollectionMethod, ConsentState, CurrentConsent, Proof
from opendpo.consent.service import record_consent
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.notice import CookieCategory
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Permission
from opendpo.web.auth import client_address, permit
from opendpo.web.dependencies import PolicyVersionDep
from opendpo.web.public import public_limit

HEADER = "sec-gpc"


def _signal(value: str | None) -> bool:
    # The specification defines the one value "1"; anything else means no signal was sent.
    return value == "1"


class GpcMiddleware:
    """Sets `request.state.gpc` for every HTTP request, before any route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            values = [v for k, v in scope["headers"] if k == HEADER.encode()]
            sent = len(values) == 1 and _signal(values[0].decode("latin-1"))
            scope.setdefault("state", {})["gpc"] = sent
        await self.app(scope, receive, send)


def sent_gpc(request: Request) -> bool:
    """Did this request carry `Sec-GPC: 1`? Read from the header if the middleware is absent."""
    noted = getattr(request.state, "gpc", None)
    if isinstance(noted, bool):
        return noted
    return _signal(request.headers.get(HEADER))


def signal_proof(request: Request, *, source: str) -> Proof:
    """The proof of a refusal the browser's signal made: the header, where and from whom."""
    return Proof(
        method=CollectionMethod.GLOBAL_PRIVACY_CONTROL,
        source=source,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        evidence={"header": "Sec-GPC: 1"},
    )


def honoured_categories(policy: PolicyDocument) -> list[CookieCategory]:
    """The cookie categories GPC says no to: all but the strictly necessary, if honoured."""
    cookies = policy.cookies
    if cookies is None or not cookies.honour_global_privacy_control:
        return []
    return [c for c in cookies.categories if c.consent != "not_required"]


def record_refusals(
    *,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    policy_version: int,
    person_id: str,
    identities: Sequence[tuple[str, str]],
    proof: Proof,
    chosen: Collection[str] = (),
) -> list[str]:
    """Record the signal as a refusal of each honoured cookie category; the keys refused.

    Categories the person chose in the same submission (`chosen`) are theirs to decide, and so
    is any category they have already answered: an explicit, live choice overrides the
    browser's general signal, and a refusal already on file needs no second record.
    """
    refused: list[str] = []
    for category in honoured_categories(policy):
        if category.key in chosen:
            continue
        current = session.get(CurrentConsent, (person_id, category.key, Channel.COOKIE.value))
        if current is not None:
            continue
        record_consent(
            session=session,
            keyring=keyring,
            policy=policy,
            policy_version=policy_version,
            identities=identities,
            purpose=category.key,
            channel=Channel.COOKIE.value,
            state=ConsentState.REFUSED,
            proof=proof,
        )
        refused.append(category.key)
    return refused


router = APIRouter(
    include_in_schema=False, dependencies=[public_limit(), permit(Permission.PUBLIC)]
)


@router.get("/.well-known/gpc.json", name="gpc_json")
def gpc_json(version: PolicyVersionDep) -> JSONResponse:
    """The GPC well-known resource; `lastUpdate` is when the policy in force was applied.

    `gpc` is always true: even a policy that does not honour the signal for cookies has it
    honoured for sharing beyond our processors (opendpo.decisions.rules).
    """
    return JSONResponse({"gpc": True, "lastUpdate": version.applied_at.date().isoformat()})
