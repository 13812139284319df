"""The console's outbox: what OpenDPO would have emailed, when no mail server is set."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from staff_sessions import SignIn, as_staff

from opendpo.mail.sender import Mailer, outbox_messages
from opendpo.security.audit import AuditEntry
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio


def send(settings: Settings, to: str, subject: str, text: str) -> str:
    mailer = Mailer(settings)
    mailer.send(mailer.new_message(to=to, subject=subject, text=text))
    return outbox_messages(settings.outbox_path)[0].name


async def test_staff_read_what_was_sent_and_each_reading_is_audited(
    client: httpx.AsyncClient, settings: Settings, engine: Engine
) -> None:
    name = send(settings, "jane@example.com", "Your code for request R-1", "Code: 123456")
    listing = await client.get("/console/outbox")
    assert listing.status_code == 200
    assert "jane@example.com" in listing.text and f"/console/outbox/{name}" in listing.text
    opened = await client.get(f"/console/outbox/{name}")
    assert opened.status_code == 200
    assert "Code: 123456" in opened.text
    with make_session_factory(engine)() as session:
        audited = session.scalars(
            select(AuditEntry.target_id).where(AuditEntry.action == "outbox.viewed")
        ).all()
    assert audited == [name]


@pytest.mark.parametrize("name", ["../keys.json", "x.eml", "0" * 32 + ".eml"])
async def test_only_messages_in_the_folder_can_be_opened(
    client: httpx.AsyncClient, settings: Settings, name: str
) -> None:
    send(settings, "jane@example.com", "Hello", "Body")
    response = await client.get(f"/console/outbox/{name}")
    assert response.status_code == 404


async def test_with_a_mail_server_there_is_no_outbox(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    name = send(settings, "jane@example.com", "Hello", "Body")
    app.state.opendpo.settings = settings.model_copy(update={"smtp_host": "mail.example.com"})
    assert "no outbox to show" in (await client.get("/console/outbox")).text
    assert (await client.get(f"/console/outbox/{name}")).status_code == 404


async def test_auditors_cannot_read_the_outbox(
    anonymous_client: httpx.AsyncClient, settings: Settings, sign_in: SignIn
) -> None:
    as_staff(anonymous_client, settings, sign_in(Role.AUDITOR))
    assert (await anonymous_client.get("/console/outbox")).status_code == 403
