"""Security headers on every kind of response; HSTS only behind TLS; no-store where data is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from opendpo.policy.model.document import PolicyDocument
from opendpo.settings import Settings
from opendpo.web.dependencies import get_session
from opendpo.web.headers import PERMISSIONS_POLICY, STRICT_TRANSPORT_SECURITY

pytestmark = pytest.mark.anyio

STATIC_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "browsing-topics")
PUBLIC_LIMIT = 5


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # Headers do not depend on the store.
    return f"sqlite:///{tmp_path / 'opendpo.db'}"


@pytest.fixture(params=["http", "https"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.model_copy(
        update={
            "base_url": f"{request.param}://privacy.example.com",
            "rate_limit_public": f"{PUBLIC_LIMIT}/minute",
        }
    )


@pytest.fixture
async def visitor(app: FastAPI, applied: PolicyDocument) -> AsyncIterator[httpx.AsyncClient]:
    """Nobody signed in, from an address of its own (so its requests may be throttled)."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _policy_directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    directives = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {parts[0]: parts[1] if len(parts) > 1 else "" for parts in directives}


def assert_security_headers(
    response: httpx.Response, settings: Settings, *, personal: bool
) -> None:
    for name, value in STATIC_HEADERS.items():
        assert response.headers.get(name) == value, name
    directives = _policy_directives(response)
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["object-src"] == "'none'"
    features = dict(
        item.strip().split("=", 1) for item in response.headers["permissions-policy"].split(",")
    )
    denied = dict.fromkeys(DENIED_FEATURES, "()")
    assert {feature: features.get(feature) for feature in DENIED_FEATURES} == denied
    if settings.behind_tls:
        assert response.headers.get("strict-transport-security") == STRICT_TRANSPORT_SECURITY
    else:
        assert "strict-transport-security" not in response.headers
    if personal:
        assert response.headers.get("cache-control") == "no-store"
    else:
        assert "no-store" not in response.headers.get("cache-control", "")


Fetch = Callable[[httpx.AsyncClient, httpx.AsyncClient], Awaitable[httpx.Response]]


async def _throttled(staff: httpx.AsyncClient, visitor: httpx.AsyncClient) -> httpx.Response:
    for _ in range(PUBLIC_LIMIT):
        await visitor.get("/")
    return await visitor.get("/")


# (what, fetch, expected status, carries personal data)
KINDS: list[tuple[str, Fetch, int, bool]] = [
    ("public page", lambda staff, visitor: visitor.get("/"), 200, False),
    ("console page", lambda staff, visitor: staff.get("/console/"), 200, True),
    ("API JSON", lambda staff, visitor: staff.get("/api/v1/purposes"), 200, True),
    ("API docs", lambda staff, visitor: visitor.get("/api/v1/docs"), 200, True),
    ("error page", lambda staff, visitor: visitor.get("/no-such-page"), 404, False),
    ("API error", lambda staff, visitor: visitor.get("/api/v1/purposes"), 401, True),
    ("console error", lambda staff, visitor: staff.get("/console/no-such-page"), 404, True),
    ("static asset", lambda staff, visitor: visitor.get("/static/site.css"), 200, False),
    ("sign-in redirect", lambda staff, visitor: visitor.get("/console/"), 303, True),
    ("health check", lambda staff, visitor: visitor.get("/healthz"), 200, False),
    ("rate limited", _throttled, 429, False),
]


@pytest.mark.parametrize(
    ("fetch", "status", "personal"),
    [pytest.param(fetch, status, personal, id=what) for what, fetch, status, personal in KINDS],
)
async def test_every_kind_of_response_carries_the_security_headers(
    client: httpx.AsyncClient,
    visitor: httpx.AsyncClient,
    settings: Settings,
    fetch: Fetch,
    status: int,
    personal: bool,
) -> None:
    response = await fetch(client, visitor)
    assert response.status_code == status
    assert_security_headers(response, settings, personal=personal)


def _broken_session() -> Session:
    raise RuntimeError("the store is down")


async def test_an_unhandled_error_carries_the_page_headers(
    app: FastAPI, lenient_client: httpx.AsyncClient, settings: Settings
) -> None:
    app.dependency_overrides[get_session] = _broken_session
    for path in ("/console/", "/api/v1/purposes"):
        response = await lenient_client.get(path)
        assert response.status_code == 500
        for name, value in STATIC_HEADERS.items():
            assert response.headers.get(name) == value, name
        assert response.headers["permissions-policy"] == PERMISSIONS_POLICY


async def test_an_unhandled_error_carries_no_store_and_hsts_too(
    app: FastAPI, lenient_client: httpx.AsyncClient, settings: Settings
) -> None:
    app.dependency_overrides[get_session] = _broken_session
    response = await lenient_client.get("/console/")
    assert response.status_code == 500
    assert_security_headers(response, settings, personal=True)
