"""Global Privacy Control: `Sec-GPC: 1` noticed, recorded as a refusal of non-essential cookies,
applied by the decision point, overridden only by an explicit choice; gpc.json served."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from consent_forms import Open, connect_ib, form_token, mails, opener, preferences_path, records
from fastapi import FastAPI, Request
from sqlalchemy import Engine

from opendpo.decisions.decide import decide
from opendpo.decisions.rules import Reason
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import current_version
from opendpo.security.keyring import Keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.gpc import GpcMiddleware, sent_gpc

pytestmark = pytest.mark.anyio

EMAIL = "gpc@example.com"
SIGNAL = {"sec-gpc": "1"}
OPT_IN = {"email": EMAIL, "consent": ["email--marketing"]}
ANALYTICS = "cookie--analytics"


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


def open_with(
    apply_document: Callable[[PolicyDocument], None],
    settings: Settings,
    outbox: Path,
    *,
    honour: bool = True,
) -> tuple[Open, PolicyDocument]:
    document = connect_ib()
    if not honour:
        assert document.cookies is not None
        cookies = document.cookies.model_copy(update={"honour_global_privacy_control": False})
        document = document.model_copy(update={"cookies": cookies})
    apply_document(document)
    return opener(settings, outbox), document


def analytics(
    engine: Engine, keyring: Keyring, policy: PolicyDocument, *, gpc: bool
) -> tuple[bool, tuple[Reason, ...]]:
    with make_session_factory(engine)() as session:
        outcome = decide(
            session=session,
            keyring=keyring,
            policy=policy,
            identity_kind="email",
            identity_value=EMAIL,
            purpose="analytics",
            channel="cookie",
            gpc=gpc,
        )
    return outcome.decision.allowed, outcome.decision.reasons


async def test_the_well_known_resource(
    apply_document: Callable[[PolicyDocument], None],
    settings: Settings,
    engine: Engine,
    outbox: Path,
) -> None:
    open_client, _ = open_with(apply_document, settings, outbox)
    with make_session_factory(engine)() as session:
        version = current_version(session=session)
        assert version is not None
        applied = version.applied_at.date()
    async with open_client() as client:
        response = await client.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"gpc": True, "lastUpdate": applied.isoformat()}
    assert dt.date.fromisoformat(response.json()["lastUpdate"]) == applied


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"sec-gpc": "1"}, True),
        ({"sec-gpc": "0"}, False),
        ({"sec-gpc": "true"}, False),
        ({"sec-gpc": "11"}, False),
        ({}, False),
    ],
)
async def test_only_the_value_1_is_the_signal(headers: dict[str, str], expected: bool) -> None:
    app = FastAPI()
    app.add_middleware(GpcMiddleware)

    @app.get("/")
    def seen(request: Request) -> dict[str, object]:
        return {"state": request.state.gpc, "read": sent_gpc(request)}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/", headers=headers)
    assert response.json() == {"state": expected, "read": expected}


@pytest.mark.parametrize("value", ["0", "yes", "true"])
async def test_other_values_record_nothing(
    apply_document: Callable[[PolicyDocument], None],
    settings: Settings,
    engine: Engine,
    outbox: Path,
    value: str,
) -> None:
    open_client, _ = open_with(apply_document, settings, outbox)
    async with open_client() as client:
        token = await form_token(client, "/subscribe")
        response = await client.post(
            "/subscribe", data={"csrf_token": token, **OPT_IN}, headers={"sec-gpc": value}
        )
    assert response.status_code == 200
    assert [(r.purpose, r.state) for r in records(engine)] == [("marketing", "given")]
    assert records(engine)[0].evidence == {"gpc": False}


async def test_the_signal_on_the_opt_in_form_is_recorded_and_applied(
    apply_document: Callable[[PolicyDocument], None],
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    outbox: Path,
) -> None:
    open_client, policy = open_with(apply_document, settings, outbox)
    async with open_client() as client:
        token = await form_token(client, "/subscribe")
        response = await client.post(
            "/subscribe", data={"csrf_token": token, **OPT_IN}, headers=SIGNAL
        )
    assert response.status_code == 200
    given, refused = records(engine)
    assert given.evidence == {"gpc": True}
    assert (refused.purpose, refused.channel, refused.state, refused.method) == (
        "analytics",
        "cookie",
        "refused",
        "global_privacy_control",
    )
    assert refused.evidence == {"header": "Sec-GPC: 1"}
    allowed, reasons = analytics(engine, keyring, policy, gpc=True)
    assert not allowed and Reason.GLOBAL_PRIVACY_CONTROL in reasons
    # The refusal stays on file for requests without the signal.
    assert analytics(engine, keyring, policy, gpc=False) == (False, (Reason.OBJECTION,))

    # A second signalled submission adds no second refusal.
    async with open_client() as client:
        token = await form_token(client, "/subscribe")
        await client.post("/subscribe", data={"csrf_token": token, **OPT_IN}, headers=SIGNAL)
    assert [r.method for r in records(engine)] == [
        "web_form",
        "global_privacy_control",
        "web_form",
    ]


async def test_an_explicit_choice_in_the_preference_centre_overrides_the_signal(
    apply_document: Callable[[PolicyDocument], None],
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    outbox: Path,
) -> None:
    open_client, policy = open_with(apply_document, settings, outbox)
    async with open_client() as client:
        token = await form_token(client, "/subscribe")
        await client.post("/subscribe", data={"csrf_token": token, **OPT_IN})
        path = preferences_path(mails(outbox)[-1])
        page = await client.get(path, headers=SIGNAL)
        assert "which we treat as no" in page.text
        assert f'id="{ANALYTICS}-no" name="{ANALYTICS}" value="no" checked' in page.text
        token = await form_token(client, path)
        response = await client.post(
            path, data={"csrf_token": token, ANALYTICS: "yes"}, headers=SIGNAL
        )
    assert response.status_code == 200
    latest = records(engine)[-1]
    assert (latest.purpose, latest.state, latest.method) == (
        "analytics",
        "given",
        "preference_centre",
    )
    assert latest.evidence == {"gpc": True}
    assert "global_privacy_control" not in {r.method for r in records(engine)}
    assert analytics(engine, keyring, policy, gpc=True) == (True, ())


async def test_saving_the_centre_with_the_signal_records_it(
    apply_document: Callable[[PolicyDocument], None],
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    outbox: Path,
) -> None:
    open_client, policy = open_with(apply_document, settings, outbox)
    async with open_client() as client:
        token = await form_token(client, "/subscribe")
        await client.post("/subscribe", data={"csrf_token": token, **OPT_IN})
        path = preferences_path(mails(outbox)[-1])
        token = await form_token(client, path)
        # As the page showed it with the signal: analytics "no".
        await client.post(path, data={"csrf_token": token, ANALYTICS: "no"}, headers=SIGNAL)
    latest = records(engine)[-1]
    assert (latest.purpose, latest.state, latest.method) == (
        "analytics",
        "refused",
        "global_privacy_control",
    )
    assert analytics(engine, keyring, policy, gpc=False) == (False, (Reason.OBJECTION,))


async def test_a_policy_that_does_not_honour_the_signal_records_nothing_for_cookies(
    apply_document: Callable[[PolicyDocument], None],
    settings: Settings,
    engine: Engine,
    outbox: Path,
) -> None:
    open_client, _ = open_with(apply_document, settings, outbox, honour=False)
    async with open_client() as client:
        token = await form_token(client, "/subscribe")
        await client.post("/subscribe", data={"csrf_token": token, **OPT_IN}, headers=SIGNAL)
    assert [r.method for r in records(engine)] == ["web_form"]
