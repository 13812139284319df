"""POST /api/v1/campaigns/prepare: only those who may be contacted, each with a personal
unsubscribe link, the RFC 8058 headers and a footer; refused without https and a mailbox."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from staff_sessions import as_staff, sign_in_directly

from opendpo.consent.campaigns import Campaign
from opendpo.consent.ledger import CollectionMethod, ConsentState, Proof
from opendpo.consent.service import record_consent
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.audit import AuditEntry
from opendpo.security.keyring import Keyring
from opendpo.security.links import LinkSigner
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.app import create_app

pytestmark = pytest.mark.anyio

PREPARE = "/api/v1/campaigns/prepare"
BASE_URL = "https://privacy.example.co.uk"
MAILBOX = "unsubscribe@example.co.uk"
MARKETING = "marketing_email"
YES, NO, STRANGER = "yes@example.com", "no@example.com", "stranger@example.com"
HEADER = re.compile(r"^<(https://[^>]+)>, <(mailto:[^>]+)>$")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An installation ready for marketing: https and an unsubscribe mailbox."""
    return settings.model_copy(update={"base_url": BASE_URL, "unsubscribe_mailbox": MAILBOX})


@pytest.fixture
def people(engine: Engine, keyring: Keyring, applied: PolicyDocument) -> None:
    with make_session_factory(engine)() as session, session.begin():
        for email, state in ((YES, ConsentState.GIVEN), (NO, ConsentState.WITHDRAWN)):
            record_consent(
                session=session,
                keyring=keyring,
                policy=applied,
                policy_version=1,
                identities=[("email", email)],
                purpose=MARKETING,
                channel="email",
                state=state,
                proof=Proof(method=CollectionMethod.WEB_FORM, source="tests"),
            )


def audit_entries(engine: Engine) -> list[AuditEntry]:
    with make_session_factory(engine)() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.prepared"))
        )


async def test_only_those_who_may_be_contacted_come_back(
    client: httpx.AsyncClient, people: None, settings: Settings, keyring: Keyring, engine: Engine
) -> None:
    response = await client.post(
        PREPARE, json={"purpose": MARKETING, "recipients": [NO, " Yes@Example.com ", STRANGER]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"received": 3, "allowed": 1, "denied": 2}
    assert body["warnings"] == []
    [prepared] = body["recipients"]
    assert prepared["email"] == " Yes@Example.com "  # as given, so the caller can match it
    url = prepared["unsubscribe_url"]
    assert url.startswith(BASE_URL + "/u/")
    token = url.removeprefix(BASE_URL + "/u/")
    headers = prepared["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = HEADER.match(headers["List-Unsubscribe"])
    assert found is not None
    assert found.group(1) == url
    assert found.group(2) == f"mailto:{MAILBOX}?subject=unsubscribe-{token}"
    # The token names the list and the address's keyed hash, never the address.
    assert "yes" not in token.lower()
    payload = LinkSigner(settings.secret_key.get_secret_value()).load("unsubscribe", token)
    assert payload == {"i": keyring.blind_index("email", YES), "p": MARKETING, "c": "email"}
    footer = prepared["footer"]
    assert url in footer["text"]
    assert "Example Widgets Ltd, 1 High Street, Luton, LU1 1AA" in footer["text"]
    assert "Marketing emails" in footer["text"]
    assert f'<a href="{url}">Unsubscribe</a>' in footer["html"]
    [entry] = audit_entries(engine)
    assert entry.details == {
        "purpose": MARKETING,
        "channel": "email",
        "received": 3,
        "allowed": 1,
        "denied": 2,
    }
    assert "@" not in json.dumps(entry.details)


async def test_each_recipient_gets_their_own_link(
    client: httpx.AsyncClient, people: None, engine: Engine, keyring: Keyring
) -> None:
    response = await client.post(
        PREPARE, json={"purpose": "client_contracts", "recipients": [YES, STRANGER]}
    )
    urls = [r["unsubscribe_url"] for r in response.json()["recipients"]]
    assert len(urls) == 2 and urls[0] != urls[1]


async def test_the_footer_html_is_escaped(
    app: FastAPI, settings: Settings, applied: PolicyDocument, engine: Engine
) -> None:
    odd = applied.model_copy(
        update={
            "controller": applied.controller.model_copy(
                update={"legal_name": "<b>Widgets</b> & Co"}
            )
        }
    )
    campaign = Campaign.start(
        settings=settings,
        keyring=app.state.opendpo.keyring,
        links=app.state.opendpo.links,
        policy=odd,
        purpose=MARKETING,
    )
    prepared = campaign.prepare("a@example.com", "a@example.com")
    assert "&lt;b&gt;Widgets&lt;/b&gt; &amp; Co" in prepared.footer_html
    assert "<b>" not in prepared.footer_html


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"purpose": MARKETING, "recipients": [YES, "not an address"]}, "recipients.1"),
        ({"purpose": "no_such_purpose", "recipients": [YES]}, "purpose"),
        ({"purpose": MARKETING, "channel": "sms", "recipients": [YES]}, "channel"),
        ({"purpose": MARKETING, "recipients": []}, "recipients"),
        ({"recipients": [YES]}, "purpose"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_nothing_is_audited(
    client: httpx.AsyncClient, people: None, engine: Engine, body: dict[str, object], field: str
) -> None:
    response = await client.post(PREPARE, json=body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["error"]["errors"]]
    assert audit_entries(engine) == []


async def prepare_with(settings: Settings, engine: Engine, **changes: object) -> httpx.Response:
    changed = settings.model_copy(update=changes)
    app = create_app(changed)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        as_staff(client, changed, sign_in_directly(engine, changed, Role.DPO))
        return await client.post(PREPARE, json={"purpose": MARKETING, "recipients": [YES]})


async def test_refused_without_https_outside_demo_mode(
    settings: Settings, engine: Engine, people: None
) -> None:
    response = await prepare_with(settings, engine, base_url="http://privacy.example.co.uk")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "campaign_not_ready"
    assert "https" in response.json()["error"]["message"]
    assert audit_entries(engine) == []


async def test_refused_without_an_unsubscribe_mailbox(
    settings: Settings, engine: Engine, people: None
) -> None:
    response = await prepare_with(settings, engine, unsubscribe_mailbox=None)
    assert response.status_code == 409
    assert "OPENDPO_UNSUBSCRIBE_MAILBOX" in response.json()["error"]["message"]


async def test_demo_mode_may_use_http_and_says_so(
    settings: Settings, engine: Engine, people: None
) -> None:
    response = await prepare_with(settings, engine, base_url="http://127.0.0.1:8000", demo=True)
    assert response.status_code == 200
    assert "RFC 8058" in response.json()["warnings"][0]
    assert response.json()["recipients"][0]["unsubscribe_url"].startswith(
        "http://127.0.0.1:8000/u/"
    )


async def test_a_streamed_list_gives_json_lines_of_those_who_may_be_contacted(
    client: httpx.AsyncClient, people: None, engine: Engine
) -> None:
    body = f"email\n{NO}\n{YES}\nbroken\n{STRANGER}\n".encode()
    response = await client.post(
        PREPARE + "/stream",
        params={"purpose": MARKETING},
        content=body,
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 200
    [line] = [json.loads(text) for text in response.text.splitlines()]
    assert line["line"] == 3 and line["email"] == YES
    assert line["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [entry] = audit_entries(engine)
    assert entry.details["received"] == 4 and entry.details["allowed"] == 1


async def test_a_streamed_list_is_refused_for_an_unknown_purpose(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    response = await client.post(
        PREPARE + "/stream",
        params={"purpose": "nope"},
        content=b"email\na@example.com\n",
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["errors"][0]["field"] == "purpose"
    assert audit_entries(engine) == []
