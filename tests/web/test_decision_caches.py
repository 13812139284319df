"""What the decision point keeps in memory, and how soon it lets go: API keys checked
moments ago, and the parsed policy. Neither may outlive a revocation or a new policy longer
than documented."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, update

from opendpo.policy.model.document import PolicyDocument
from opendpo.security.api_keys import ApiKey, KeyCache, create_key
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.app import create_app

pytestmark = pytest.mark.anyio

DECISION = {
    "identity": {"kind": "email", "value": "someone@example.com"},
    "purpose": "marketing_email",
    "channel": "email",
}


def new_key(engine: Engine) -> tuple[str, str]:
    with make_session_factory(engine)() as session, session.begin():
        key, token = create_key(
            session=session, name="campaigns", scopes=["decisions:read"], created_by="tests"
        )
        return key.id, token


def revoke_in_store(engine: Engine, key_id: str) -> None:
    """As another server process (or the CLI) would: straight in the store."""
    with make_session_factory(engine)() as session, session.begin():
        session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=dt.datetime.now(dt.UTC))
        )


async def client_of(app: FastAPI, token: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as client:
            yield client
    finally:
        app.state.opendpo.engine.dispose()  # no lifespan runs here to close the pool


async def test_a_key_checked_moments_ago_is_trusted_until_the_cache_expires(
    settings: Settings, engine: Engine, applied: PolicyDocument
) -> None:
    key_id, token = new_key(engine)
    app = create_app(settings.model_copy(update={"api_key_cache_seconds": 60}))
    async for client in client_of(app, token):
        assert (await client.post("/api/v1/decisions", json=DECISION)).status_code == 200
        revoke_in_store(engine, key_id)
        # Revoked by another process: this one trusts its check for up to 60 s.
        assert (await client.post("/api/v1/decisions", json=DECISION)).status_code == 200
        app.state.opendpo.key_cache.forget(key_id)
        assert (await client.post("/api/v1/decisions", json=DECISION)).status_code == 401


async def test_with_no_cache_a_revoked_key_is_refused_at_once(
    settings: Settings, engine: Engine, applied: PolicyDocument
) -> None:
    key_id, token = new_key(engine)
    app = create_app(settings.model_copy(update={"api_key_cache_seconds": 0}))
    async for client in client_of(app, token):
        assert (await client.post("/api/v1/decisions", json=DECISION)).status_code == 200
        revoke_in_store(engine, key_id)
        assert (await client.post("/api/v1/decisions", json=DECISION)).status_code == 401


def test_the_key_cache_expires_and_forgets() -> None:
    now = [100.0]
    cache = KeyCache(5, clock=lambda: now[0])
    key = ApiKey(id="k1", name="n", scopes=["decisions:read"])
    cache.put("odpo_token", key)
    assert cache.get("odpo_token") is not None
    assert cache.get("odpo_other") is None
    now[0] += 5
    assert cache.get("odpo_token") is None
    cache.put("odpo_token", key)
    cache.forget("k1")
    assert cache.get("odpo_token") is None
    assert KeyCache(0).put("odpo_token", key).id == "k1"
    assert KeyCache(0).get("odpo_token") is None


async def test_a_newly_applied_policy_is_used_by_the_next_decision(
    settings: Settings,
    engine: Engine,
    applied: PolicyDocument,
    apply_document: Callable[[PolicyDocument], None],
) -> None:
    _, token = new_key(engine)
    app = create_app(settings)
    async for client in client_of(app, token):
        assert (await client.post("/api/v1/decisions", json=DECISION)).status_code == 200
        without = applied.model_copy(
            update={"purposes": [p for p in applied.purposes if p.key != "marketing_email"]}
        )
        apply_document(without)
        answer = await client.post("/api/v1/decisions", json=DECISION)
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["error"]["errors"]] == ["purpose"]


async def test_requests_never_hold_two_connections_at_once(
    settings: Settings, engine: Engine, applied: PolicyDocument
) -> None:
    """The key check gives its connection back before the decision takes one: with a pool
    of two, eight requests at once must all be answered (not wait out the pool timeout)."""
    _, token = new_key(engine)
    tight = {"api_key_cache_seconds": 0, "database_pool_size": 1}  # 1 + 1 overflow
    app = create_app(settings.model_copy(update=tight))
    async for client in client_of(app, token):
        calls = [client.post("/api/v1/decisions", json=DECISION) for _ in range(8)]
        answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=20)
        assert [a.status_code for a in answers] == [200] * 8
