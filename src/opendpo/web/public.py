"""What every public endpoint uses against abuse: a budget per client address and per identity.

The privacy centre answers people who are not signed in, so nothing but these limits stands
between it and someone trying many addresses, or one person's address many times:

    router = APIRouter(dependencies=[public_limit(), permit(Permission.PUBLIC)])
    ...
    limit_identity(state, "access-request", normalise(IdentityKind.EMAIL, form.email))

`/healthz` is deliberately left out: a load balancer probes it from one address every few
seconds, and throttling it would take a healthy server out of service.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Depends, Request

from opendpo.security.rate_limits import parse_limit
from opendpo.web.dependencies import StateDep
from opendpo.web.state import WebState

PUBLIC_SCOPE = "public"
# Requests whose client address the server cannot see (e.g. over a Unix socket without proxy
# headers) share one budget rather than escaping the limit.
UNKNOWN_ADDRESS = "unknown"


class PublicLimit:
    """A dependency counting each request against its client address (OPENDPO_RATE_LIMIT_PUBLIC).

    Every route given the same `scope` draws from one budget per address; a form that needs
    a budget of its own passes its own scope.
    """

    def __init__(self, scope: str = PUBLIC_SCOPE, *, setting: str = "rate_limit_public") -> None:
        self.scope = scope
        self.setting = setting

    def __call__(self, request: Request, state: StateDep) -> None:
        limit = parse_limit(
            getattr(state.settings, self.setting), field=f"OPENDPO_{self.setting.upper()}"
        )
        # Behind a reverse proxy this is the visitor's address only if the server trusts the
        # proxy's forwarded headers (`opendpo serve --forwarded-allow-ips`); otherwise every
        # visitor shares the proxy's address, and its budget.
        address = request.client.host if request.client else UNKNOWN_ADDRESS
        state.rate_limiter.hit(limit, f"address:{self.scope}", address)

    def __repr__(self) -> str:
        return f"PublicLimit({self.scope!r})"


def public_limit(scope: str = PUBLIC_SCOPE, *, setting: str = "rate_limit_public") -> Any:
    """`dependencies=[public_limit()]` for a router of public routes; `setting` names the
    limit's setting when a route needs a budget other than OPENDPO_RATE_LIMIT_PUBLIC."""
    return Depends(PublicLimit(scope, setting=setting))


def identity_key(state: WebState, identity: str) -> str:
    """The keyed hash an identity is counted under.

    A plain hash of an email is reversed by hashing a list of emails; keyed with a key derived
    from OPENDPO_MAC_KEY, what Redis holds says nothing to anyone without the keys.
    """
    key = state.keyring.derived_key("rate-limit-identity")
    return hmac.new(key, identity.strip().casefold().encode(), hashlib.sha256).hexdigest()


def limit_identity(state: WebState, scope: str, identity: str) -> None:
    """Count one use of `scope` for this identity, whatever address it comes from.

    Pass the identity's normal form (opendpo.subjects.identities.normalise), so that every
    spelling of one email or telephone number shares one budget. Call it before looking the
    identity up, so known and unknown identities are limited alike. RateLimited past
    OPENDPO_RATE_LIMIT_IDENTITY.
    """
    limit = parse_limit(state.settings.rate_limit_identity, field="OPENDPO_RATE_LIMIT_IDENTITY")
    state.rate_limiter.hit(limit, f"identity:{scope}", identity_key(state, identity))
