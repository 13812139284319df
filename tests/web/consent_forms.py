"""What the tests of the public consent pages share: the company's policy, a client of an app
writing email to an outbox folder, the forms' CSRF token, and reading the ledger back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from opendpo.consent.ledger import ConsentRecord, CurrentConsent
from opendpo.mail.sender import outbox_messages
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import Person, find_person
from opendpo.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
CONNECT_IB = ROOT / "policies" / "connect-ib.yaml"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"https?://\S+/preferences/([A-Za-z0-9_.\-]+)")

Open = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def connect_ib() -> PolicyDocument:
    return load_policy(CONNECT_IB).document


def opener(settings: Settings, outbox: Path) -> Open:
    """Clients of an app over the test store, mail going to `outbox`, with `overrides`."""

    @asynccontextmanager
    async def open_client(
        address: str = "127.0.0.1", **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        update = {"outbox_path": outbox, "rate_limit_public": "1000/minute", **overrides}
        app = create_app(settings.model_copy(update=update))
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            yield client

    return open_client


async def form_token(client: httpx.AsyncClient, path: str) -> str:
    """Open the form at `path` as a browser would (its cookie lands in the jar); its token."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF_FIELD.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def submit(
    client: httpx.AsyncClient,
    path: str,
    data: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    token = await form_token(client, path)
    return await client.post(path, data={"csrf_token": token, **data}, headers=headers)


def mails(outbox: Path) -> list[EmailMessage]:
    """Messages in the outbox, oldest first."""
    found = []
    for path in reversed(outbox_messages(outbox)):
        message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def preferences_path(message: EmailMessage) -> str:
    found = LINK.search(body(message))
    assert found is not None, body(message)
    return f"/preferences/{found.group(1)}"


def person_of(engine: Engine, keyring: Keyring, email: str) -> Person | None:
    with make_session_factory(engine)() as session:
        person = find_person(session=session, keyring=keyring, kind="email", value=email)
        if person is not None:
            session.expunge(person)
        return person


def records(engine: Engine) -> list[ConsentRecord]:
    with make_session_factory(engine)() as session:
        found = list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.seq)))
        session.expunge_all()
        return found


def states(engine: Engine, person_id: str) -> dict[tuple[str, str], str]:
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(CurrentConsent).where(CurrentConsent.person_id == person_id))
        return {(row.purpose, row.channel): row.state for row in rows}
