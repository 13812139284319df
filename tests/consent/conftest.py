"""Fixtures for the consent tests: a policy with a consent purpose applied to the store, and
an in-process client of the app (the web fixtures live beside the web tests, not here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from consent_helpers import Applied, apply
from fastapi import FastAPI
from sqlalchemy import Engine

from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.roles import Role
from opendpo.security.sessions import start_session
from opendpo.security.staff import add_user
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.app import create_app
from opendpo.web.auth import session_cookie_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings, with mail written to this test's own outbox."""
    return settings.model_copy(update={"outbox_path": tmp_path / "outbox"})


@pytest.fixture
def minimal_document(minimal_policy: Path) -> PolicyDocument:
    return load_policy(minimal_policy).document


@pytest.fixture
def connect_ib() -> PolicyDocument:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document


@pytest.fixture
def applied(engine: Engine, minimal_document: PolicyDocument) -> Applied:
    """The minimal policy (purpose `marketing_email`: consent by email) as version 1."""
    return Applied(minimal_document, apply(engine, minimal_document))


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, with nobody signed in."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


@pytest.fixture
def staff_headers(engine: Engine, settings: Settings) -> dict[Role, tuple[str, dict[str, str]]]:
    """Per role, a staff member's id and the headers of a live console session of theirs."""
    found = {}
    with make_session_factory(engine)() as session, session.begin():
        for role in Role:
            user, _ = add_user(
                session=session, username=f"consent-{role.value}", role=role, display_name="Staff"
            )
            user.must_change_password = False
            staff_session, token = start_session(
                session=session,
                user=user,
                absolute=dt.timedelta(hours=1),
                client_address="127.0.0.1",
                user_agent="tests",
            )
            headers = {
                "cookie": f"{session_cookie_name(settings)}={token}",
                "x-csrf-token": staff_session.csrf_token,
            }
            found[role] = (user.id, headers)
    return found
