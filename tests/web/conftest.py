"""Fixtures for the web tests: the app built from the `settings` fixture, on SQLite and
PostgreSQL, with the minimal policy applied, and an in-process HTTP client.

starlette's TestClient warns about its httpx dependency, so the tests talk to the app through
httpx's ASGITransport and run under anyio.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from staff_sessions import SignedIn, SignIn, as_staff, sign_in_directly

from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import apply_policy
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.app import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings, with the task queue in the test's folder and no embedded worker:
    a test that wants request steps worked by the server turns it on."""
    return settings.model_copy(
        update={"embedded_worker": False, "task_queue_path": tmp_path / "tasks.db"}
    )


def apply(engine: Engine, document: PolicyDocument, source: str = "tests") -> None:
    with make_session_factory(engine)() as session, session.begin():
        apply_policy(session=session, document=document, source=source, applied_by="tests")


Apply = Callable[[PolicyDocument], None]


@pytest.fixture
def apply_document(engine: Engine) -> Apply:
    """Apply a policy document to the test store, as `opendpo policy apply` would."""

    def apply_it(document: PolicyDocument) -> None:
        apply(engine, document)

    return apply_it


@pytest.fixture
def minimal_document(minimal_policy: Path) -> PolicyDocument:
    return load_policy(minimal_policy).document


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    """The app on a migrated, empty store (no policy applied)."""
    return create_app(settings)


@pytest.fixture
def applied(engine: Engine, minimal_document: PolicyDocument) -> PolicyDocument:
    apply(engine, minimal_document)
    return minimal_document


@pytest.fixture
def sign_in(engine: Engine, settings: Settings) -> SignIn:
    def make(role: Role, *, username: str | None = None) -> SignedIn:
        return sign_in_directly(engine, settings, role, username=username)

    return make


async def _client(app: FastAPI, *, raise_app_exceptions: bool) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


@pytest.fixture
async def empty_client(
    app: FastAPI, settings: Settings, sign_in: SignIn
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app before any policy has been applied, signed in as a DPO."""
    async for client in _client(app, raise_app_exceptions=True):
        as_staff(client, settings, sign_in(Role.DPO))
        yield client


@pytest.fixture
async def anonymous_client(
    app: FastAPI, applied: PolicyDocument
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with the minimal policy in force, signed in as nobody."""
    async for client in _client(app, raise_app_exceptions=True):
        yield client


@pytest.fixture
async def client(
    app: FastAPI, applied: PolicyDocument, settings: Settings, sign_in: SignIn
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with the minimal policy in force, signed in as a DPO."""
    async for client in _client(app, raise_app_exceptions=True):
        as_staff(client, settings, sign_in(Role.DPO))
        yield client


@pytest.fixture
async def lenient_client(
    app: FastAPI, applied: PolicyDocument, settings: Settings, sign_in: SignIn
) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client`, but an unhandled error comes back as the 500 response a browser sees."""
    async for client in _client(app, raise_app_exceptions=False):
        as_staff(client, settings, sign_in(Role.DPO))
        yield client


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def web_logs() -> Iterator[list[logging.LogRecord]]:
    """Records logged under `opendpo.web`, whatever logging the rest of the suite configured."""
    logger = logging.getLogger("opendpo.web")
    handler = Captured()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(previous)
