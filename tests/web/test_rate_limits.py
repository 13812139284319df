"""Rate limits on public endpoints: per client address, per identity, shared through Redis.

The store plays no part in rate limiting, so these tests run on SQLite only.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis
from fastapi import APIRouter, FastAPI, Form
from generic_responses import assert_indistinguishable
from starlette.responses import PlainTextResponse, Response

from opendpo.policy.model.document import PolicyDocument
from opendpo.security.errors import RateLimited
from opendpo.security.roles import Permission
from opendpo.settings import Settings, SettingsError, load_settings
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.web.app import create_app
from opendpo.web.auth import permit
from opendpo.web.dependencies import StateDep
from opendpo.web.public import identity_key, limit_identity, public_limit
from opendpo.web.state import WebState

pytestmark = pytest.mark.anyio

# A database index of its own; the test deletes exactly the keys it made.
REDIS_URL = "redis://127.0.0.1:6379/15"
KNOWN_EMAIL = "jane@example.com"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'opendpo.db'}"


BuildApp = Callable[..., FastAPI]


@pytest.fixture
def build_app(settings: Settings, applied: PolicyDocument) -> Iterator[BuildApp]:
    """Apps over the test store with tiny limits; each its own limiter, unless Redis joins them."""
    built: list[FastAPI] = []

    def build(**overrides: object) -> FastAPI:
        limits = {"rate_limit_public": "3/minute", "rate_limit_identity": "2/hour"}
        app = create_app(settings.model_copy(update={**limits, **overrides}))
        app.include_router(_ask_router())
        built.append(app)
        return app

    yield build
    for app in built:
        app.state.opendpo.engine.dispose()


def _ask_router() -> APIRouter:
    """A stand-in for the request forms of later issues, wired the way they must be."""
    router = APIRouter(dependencies=[public_limit(), permit(Permission.PUBLIC)])

    @router.post("/test-only/ask")
    def ask(state: StateDep, email: str = Form()) -> Response:
        identity = normalise(IdentityKind.EMAIL, email)
        # Limited before the look-up, so a known identity costs what an unknown one does.
        limit_identity(state, "ask", identity)
        _found = identity == KNOWN_EMAIL  # a real form would act on this, out of band
        return PlainTextResponse("If we hold data about this address, we have emailed it.")

    return router


@asynccontextmanager
async def client_from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_rate_limited_page(response: httpx.Response) -> int:
    """The standard error page for 429, with a usable Retry-After; returns its seconds."""
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("text/html")
    assert "<dd>429</dd>" in response.text
    assert "<code>rate_limited</code>" in response.text
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    seconds = int(retry_after)
    assert 0 < seconds <= 60
    assert f"Try again in {seconds} seconds" in response.text
    return seconds


async def test_a_public_page_answers_429_past_the_per_address_limit(build_app: BuildApp) -> None:
    async with client_from(build_app(), "192.0.2.10") as client:
        for _ in range(3):
            assert (await client.get("/")).status_code == 200
        assert_rate_limited_page(await client.get("/"))
        # Every public route shares the one budget per address.
        refused = await client.post("/test-only/ask", data={"email": "x@example.com"})
        assert refused.status_code == 429


async def test_each_client_address_has_its_own_budget(build_app: BuildApp) -> None:
    app = build_app()
    async with client_from(app, "192.0.2.10") as first, client_from(app, "192.0.2.11") as other:
        for _ in range(3):
            assert (await first.get("/")).status_code == 200
        assert (await first.get("/")).status_code == 429
        assert (await other.get("/")).status_code == 200


async def test_health_checks_are_never_throttled(build_app: BuildApp) -> None:
    # A load balancer probing from one address must not take a healthy server out of service.
    async with client_from(build_app(), "192.0.2.10") as client:
        for _ in range(10):
            assert (await client.get("/healthz")).status_code == 200


async def test_the_identity_limit_follows_the_identity_across_addresses(
    build_app: BuildApp,
) -> None:
    app = build_app(rate_limit_public="100/minute")
    async with (
        client_from(app, "192.0.2.10") as first,
        client_from(app, "198.51.100.7") as second,
        client_from(app, "203.0.113.99") as third,
    ):
        ok = await first.post("/test-only/ask", data={"email": "Jane@Example.com"})
        assert ok.status_code == 200
        # Another spelling of the same address, from elsewhere, draws on the same budget.
        ok = await second.post("/test-only/ask", data={"email": " JANE@example.COM"})
        assert ok.status_code == 200
        refused = await third.post("/test-only/ask", data={"email": KNOWN_EMAIL})
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        # Another identity from the same address is not affected.
        other = await third.post("/test-only/ask", data={"email": "someone@example.com"})
        assert other.status_code == 200


async def test_known_and_unknown_identities_get_the_same_answer(build_app: BuildApp) -> None:
    app = build_app(rate_limit_public="100/minute", rate_limit_identity="1/hour")
    async with client_from(app, "192.0.2.10") as client:
        known = await client.post("/test-only/ask", data={"email": KNOWN_EMAIL})
        unknown = await client.post("/test-only/ask", data={"email": "nobody@example.com"})
        assert known.status_code == 200
        assert_indistinguishable(known, unknown)
        # The limit, too, does not depend on whether the identity is known.
        known = await client.post("/test-only/ask", data={"email": KNOWN_EMAIL})
        unknown = await client.post("/test-only/ask", data={"email": "nobody@example.com"})
        assert known.status_code == 429
        assert_indistinguishable(known, unknown, ignore_headers=["retry-after"])


async def test_the_limit_lifts_after_the_window(build_app: BuildApp) -> None:
    async with client_from(build_app(rate_limit_public="1/second"), "192.0.2.10") as client:
        # The window slides: a request just after a second boundary may still get through.
        for _ in range(3):
            response = await client.get("/")
            if response.status_code == 429:
                break
        seconds = assert_rate_limited_page(response)
        assert seconds <= 2
        await asyncio.sleep(seconds + 0.05)
        assert (await client.get("/")).status_code == 200


def test_identity_keys_are_keyed_hashes_of_the_normal_form(build_app: BuildApp) -> None:
    state: WebState = build_app().state.opendpo
    key = identity_key(state, KNOWN_EMAIL)
    assert key == identity_key(state, " Jane@EXAMPLE.com ")
    assert key != identity_key(state, "john@example.com")
    # Not the plain hash anyone could compute from a list of addresses.
    assert key != hashlib.sha256(KNOWN_EMAIL.encode()).hexdigest()
    assert KNOWN_EMAIL not in key


def test_limit_identity_raises_rate_limited_with_seconds(build_app: BuildApp) -> None:
    state: WebState = build_app().state.opendpo
    limit_identity(state, "scope-a", KNOWN_EMAIL)
    limit_identity(state, "scope-a", KNOWN_EMAIL)
    with pytest.raises(RateLimited) as raised:
        limit_identity(state, "scope-a", KNOWN_EMAIL)
    assert raised.value.retry_after > 0
    limit_identity(state, "scope-b", KNOWN_EMAIL)  # scopes are counted apart


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RATE_LIMIT_PUBLIC", "ten per minute", "is not a rate limit"),
        ("RATE_LIMIT_IDENTITY", "5/fortnight", "is not a rate limit"),
        ("RATE_LIMIT_LOGIN", "0/minute", "allows nothing"),
        ("RATE_LIMIT_PUBLIC", "3/minute;5/hour", "give one"),
    ],
)
def test_a_bad_rate_limit_is_refused_at_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv("OPENDPO_DEMO", "1")
    monkeypatch.setenv(f"OPENDPO_{variable}", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert f"OPENDPO_{variable}: '{value}'" in str(raised.value)
    assert says in str(raised.value)


def test_good_rate_limits_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDPO_DEMO", "1")
    monkeypatch.setenv("OPENDPO_RATE_LIMIT_PUBLIC", "120 per hour")
    assert load_settings().rate_limit_public == "120 per hour"


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """Redis database 15; every key a test adds there is deleted afterwards."""
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:
        connection.close()
        # As tests/conftest.py's service_missing, which a test module cannot import by name.
        message = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("OPENDPO_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} (OPENDPO_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    before = _keys(connection)
    yield connection
    made = _keys(connection) - before
    if made:
        connection.delete(*made)
    connection.close()


def _keys(connection: redis.Redis) -> set[bytes]:
    return set(cast(list[bytes], connection.keys("*")))


def _fresh_address() -> str:
    """An address no earlier run has counted, whatever keys a crashed run left behind."""
    number = uuid.uuid4().int
    return f"10.{number % 250}.{(number >> 8) % 250}.{(number >> 16) % 250 + 1}"


async def test_processes_sharing_redis_share_one_count(
    build_app: BuildApp, redis_db: redis.Redis
) -> None:
    # Two apps stand for two server processes; only Redis connects them.
    first_app = build_app(redis_url=REDIS_URL)
    second_app = build_app(redis_url=REDIS_URL)
    address = _fresh_address()
    async with client_from(first_app, address) as first, client_from(second_app, address) as second:
        assert (await first.get("/")).status_code == 200
        assert (await second.get("/")).status_code == 200
        assert (await first.get("/")).status_code == 200
        assert_rate_limited_page(await second.get("/"))
        assert (await first.get("/")).status_code == 429

    # The identity budget (2/hour) is shared too, from any address through any process.
    email = f"redis-{uuid.uuid4().hex[:8]}@example.com"
    answers = []
    for app in (first_app, second_app, first_app):
        async with client_from(app, _fresh_address()) as client:
            answers.append((await client.post("/test-only/ask", data={"email": email})).status_code)
    assert answers == [200, 200, 429]


async def test_redis_never_holds_an_identity(build_app: BuildApp, redis_db: redis.Redis) -> None:
    email = f"private-{uuid.uuid4().hex[:8]}@example.com"
    state: WebState = build_app(redis_url=REDIS_URL).state.opendpo
    limit_identity(state, "ask", email)
    stored = b" ".join(_keys(redis_db))
    assert email.encode() not in stored
    assert hashlib.sha256(email.encode()).hexdigest()[:32].encode() not in stored
    assert stored  # the count is there, under a key that says nothing about the person
