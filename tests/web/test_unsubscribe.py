"""One-click unsubscribe (RFC 8058): the acceptance test posts List-Unsubscribe=One-Click to
the URL from a prepared campaign's header with a bare client, and the person is suppressed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from test_web_browser import prepare_store, running, server_settings

from opendpo.consent.campaigns import unsubscribe_token
from opendpo.consent.ledger import CollectionMethod, ConsentRecord, ConsentState, Proof
from opendpo.consent.service import record_consent
from opendpo.consent.suppression import Suppression, suppression_count
from opendpo.decisions.decide import decide
from opendpo.decisions.rules import Reason
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import current_version
from opendpo.security.audit import AuditEntry
from opendpo.security.keyring import Keyring, load_keyring
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.web.app import create_app

pytestmark = pytest.mark.anyio

BASE_URL = "https://privacy.example.co.uk"
MARKETING = "marketing_email"
EMAIL = "jane@example.com"
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
HEADER = re.compile(r"^<(https://[^>]+)>, <mailto:")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"base_url": BASE_URL, "unsubscribe_mailbox": "unsubscribe@example.co.uk"}
    )


@pytest.fixture
def consenting(engine: Engine, keyring: Keyring, applied: PolicyDocument) -> None:
    with make_session_factory(engine)() as session, session.begin():
        record_consent(
            session=session,
            keyring=keyring,
            policy=applied,
            policy_version=1,
            identities=[("email", EMAIL)],
            purpose=MARKETING,
            channel="email",
            state=ConsentState.GIVEN,
            proof=Proof(method=CollectionMethod.WEB_FORM, source="tests"),
        )


@pytest.fixture
async def bare(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """No cookies, no credentials, no CSRF token: what a mailbox provider sends."""
    transport = httpx.ASGITransport(app=app)
    # The lifespan closes the app's store connections, whichever client came first.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        yield client


def state_of(engine: Engine, keyring: Keyring, policy: PolicyDocument) -> dict[str, object]:
    with make_session_factory(engine)() as session:
        outcome = decide(
            session=session,
            keyring=keyring,
            policy=policy,
            identity_kind="email",
            identity_value=EMAIL,
            purpose=MARKETING,
            channel="email",
        )
        return {
            "suppressions": suppression_count(session=session),
            "withdrawn": count(session, ConsentRecord, ConsentRecord.state == "withdrawn"),
            "audited": count(session, AuditEntry, AuditEntry.action == "consent.unsubscribed"),
            "reasons": outcome.decision.reasons,
        }


def count(session: Session, model: type[object], *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


async def prepared_url(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/api/v1/campaigns/prepare", json={"purpose": MARKETING, "recipients": [EMAIL]}
    )
    found = HEADER.match(response.json()["recipients"][0]["headers"]["List-Unsubscribe"])
    assert found is not None
    return found.group(1)


async def test_rfc_8058_one_click_unsubscribe(
    client: httpx.AsyncClient,
    bare: httpx.AsyncClient,
    consenting: None,
    engine: Engine,
    keyring: Keyring,
    applied: PolicyDocument,
) -> None:
    url = await prepared_url(client)
    assert state_of(engine, keyring, applied)["reasons"] == ()
    response = await bare.post(url, headers=FORM, **ONE_CLICK)
    assert response.status_code == 200
    assert "location" not in response.headers and "set-cookie" not in response.headers
    assert "You are unsubscribed" in response.text
    after = state_of(engine, keyring, applied)
    assert after == {
        "suppressions": 1,
        "withdrawn": 1,
        "audited": 1,
        "reasons": (Reason.SUPPRESSED, Reason.WITHDRAWN),
    }
    again = await bare.post(url, headers=FORM, **ONE_CLICK)
    assert again.status_code == 200
    assert state_of(engine, keyring, applied) == after  # idempotent: nothing more written


async def test_the_unsubscribe_is_recorded_as_the_person_did_it(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, consenting: None, engine: Engine
) -> None:
    url = await prepared_url(client)
    await bare.post(url, headers={**FORM, "user-agent": "Mailbox/1.0"}, **ONE_CLICK)
    with make_session_factory(engine)() as session:
        record = session.scalars(select(ConsentRecord).order_by(ConsentRecord.seq.desc())).first()
        assert record is not None
        assert (record.state, record.method, record.user_agent) == (
            "withdrawn",
            "unsubscribe",
            "Mailbox/1.0",
        )
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "consent.unsubscribed")
        ).one()
        assert entry.actor_kind == "subject"
        assert (entry.target_kind, entry.target_id) == ("person", record.person_id)
        assert entry.details == {"purpose": MARKETING, "channel": "email"}
        suppression = session.scalars(select(Suppression)).one()
        assert (suppression.purpose, suppression.channel, suppression.reason) == (
            MARKETING,
            "email",
            "unsubscribed",
        )


async def test_a_get_only_asks_for_confirmation(
    client: httpx.AsyncClient,
    bare: httpx.AsyncClient,
    consenting: None,
    engine: Engine,
    keyring: Keyring,
    applied: PolicyDocument,
) -> None:
    url = await prepared_url(client)
    page = await bare.get(url)
    assert page.status_code == 200
    assert f'<form method="post" action="{url.removeprefix(BASE_URL)}">' in page.text
    assert "Marketing emails" in page.text
    assert state_of(engine, keyring, applied)["suppressions"] == 0
    # The page's own button posts the form, and that unsubscribes too.
    done = await bare.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert state_of(engine, keyring, applied)["reasons"] == (Reason.SUPPRESSED, Reason.WITHDRAWN)


async def test_an_address_we_do_not_hold_is_still_suppressed(
    app: FastAPI, bare: httpx.AsyncClient, applied: PolicyDocument, engine: Engine, keyring: Keyring
) -> None:
    links: LinkSigner = app.state.opendpo.links
    index = keyring.blind_index("email", "gone@example.com")
    token = unsubscribe_token(links, blind_index=index, purpose=MARKETING, channel="email")
    response = await bare.post(f"/u/{token}", headers=FORM, **ONE_CLICK)
    assert response.status_code == 200
    with make_session_factory(engine)() as session:
        assert session.scalars(select(Suppression.blind_index)).all() == [index]
        assert count(session, ConsentRecord) == 0
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.target_kind, entry.target_id) == ("suppression", None)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_tampered_token_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient,
    bare: httpx.AsyncClient,
    consenting: None,
    engine: Engine,
    keyring: Keyring,
    applied: PolicyDocument,
    settings: Settings,
    method: str,
) -> None:
    # A token made for another kind of link is refused too, though its signature is good.
    url = await prepared_url(client)
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    response = await bare.request(method, tampered, headers=FORM, **ONE_CLICK)
    assert response.status_code == 400
    assert "not valid" in response.text
    assert state_of(engine, keyring, applied)["suppressions"] == 0
    other_link = LinkSigner(settings.secret_key.get_secret_value()).sign(
        "preferences", {"i": "x", "p": MARKETING}
    )
    response = await bare.request(method, f"/u/{other_link}", headers=FORM, **ONE_CLICK)
    assert response.status_code == 400


def test_one_click_through_a_real_server(tmp_path: Path) -> None:
    """uvicorn in a thread and a bare httpx.post, as a mailbox provider would send it."""
    settings = server_settings(tmp_path).model_copy(update={"unsubscribe_mailbox": "u@example.com"})
    prepare_store(settings)
    keyring = load_keyring(settings)
    engine = make_engine(settings.database_url, keyring=keyring)
    with make_session_factory(engine)() as session, session.begin():
        version = current_version(session=session)
        assert version is not None
        record_consent(
            session=session,
            keyring=keyring,
            policy=version.policy(),
            policy_version=version.number,
            identities=[("email", EMAIL)],
            purpose="marketing",
            channel="email",
            state=ConsentState.GIVEN,
            proof=Proof(method=CollectionMethod.WEB_FORM, source="tests"),
        )
    token = unsubscribe_token(
        LinkSigner(settings.secret_key.get_secret_value()),
        blind_index=keyring.blind_index("email", EMAIL),
        purpose="marketing",
        channel="email",
    )
    with running(settings) as url:
        response = httpx.post(
            f"{url}/u/{token}", content=b"List-Unsubscribe=One-Click", headers=FORM
        )
        assert response.status_code == 200
        assert not response.history  # no redirect was followed
    with make_session_factory(engine)() as session:
        assert suppression_count(session=session) == 1
        assert count(session, ConsentRecord, ConsentRecord.state == "withdrawn") == 1
    engine.dispose()


async def test_unsubscribes_have_a_budget_of_their_own(
    settings: Settings, engine: Engine, keyring: Keyring, applied: PolicyDocument
) -> None:
    # A mail provider posts many people's unsubscribes from one address: the public pages'
    # budget must not stop them, but a budget still applies.
    app = create_app(
        settings.model_copy(
            update={"rate_limit_public": "2/minute", "rate_limit_unsubscribe": "4/minute"}
        )
    )
    links: LinkSigner = app.state.opendpo.links
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        statuses = []
        for number in range(5):
            index = keyring.blind_index("email", f"person{number}@example.com")
            token = unsubscribe_token(links, blind_index=index, purpose=MARKETING, channel="email")
            response = await client.post(f"/u/{token}", headers=FORM, **ONE_CLICK)
            statuses.append(response.status_code)
        assert (await client.get("/")).status_code == 200  # the public budget is untouched
    assert statuses == [200, 200, 200, 200, 429]
    with make_session_factory(engine)() as session:
        assert count(session, Suppression) == 4
