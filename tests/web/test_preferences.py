"""The opt-in form and the preference centre, in-process on SQLite and PostgreSQL: what is
asked, what is recorded and how, the emails, generic answers, and saying no as easily as yes."""

from __future__ import annotations

import datetime as dt
import html
import re
import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from consent_forms import (
    Open,
    body,
    connect_ib,
    form_token,
    mails,
    opener,
    person_of,
    preferences_path,
    records,
    states,
    submit,
)
from generic_responses import assert_indistinguishable
from markupsafe import escape
from sqlalchemy import Engine, func, select

from opendpo.consent.ledger import Channel, ConsentRecord, CurrentConsent
from opendpo.consent.service import wording_for
from opendpo.decisions.decide import decide
from opendpo.decisions.rules import Reason
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.security.links import LINK_LIFETIMES, LinkSigner
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import Person
from opendpo.web.pages.consent_mail import LINK_DAYS

pytestmark = pytest.mark.anyio

EMAIL = "Jane.Doe@Example.com"
MARKETING_EMAIL = "email--marketing"
MARKETING_PHONE = "phone--marketing"
ANALYTICS = "cookie--analytics"


@pytest.fixture
def policy(apply_document: Callable[[PolicyDocument], None]) -> PolicyDocument:
    document = connect_ib()
    apply_document(document)
    return document


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def open_client(settings: Settings, policy: PolicyDocument, outbox: Path) -> Open:
    return opener(settings, outbox)


def label_of(page: str, key: str) -> str:
    found = re.search(rf'<label for="{key}">([^<]+)</label>', page)
    assert found is not None, key
    return html.unescape(found.group(1))


def legend_of(page: str, key: str) -> str:
    found = re.search(rf'aria-describedby="{key}-status">\s*<legend>([^<]+)</legend>', page)
    assert found is not None, key
    return html.unescape(found.group(1))


def decide_marketing(
    engine: Engine, keyring: Keyring, policy: PolicyDocument, email: str
) -> set[Reason]:
    with make_session_factory(engine)() as session:
        outcome = decide(
            session=session,
            keyring=keyring,
            policy=policy,
            identity_kind="email",
            identity_value=email,
            purpose="marketing",
            channel="email",
        )
        assert outcome.decision.allowed == (not outcome.decision.reasons)
        return set(outcome.decision.reasons)


# The opt-in form


async def test_the_form_asks_once_per_purpose_and_channel_in_the_policys_words(
    open_client: Open, policy: PolicyDocument
) -> None:
    async with open_client() as client:
        page = await client.get("/subscribe")
    assert page.status_code == 200
    boxes = re.findall(
        r'<input type="checkbox" id="([^"]+)" name="consent" value="\1"( checked)?>', page.text
    )
    assert [key for key, _ in boxes] == [MARKETING_EMAIL, "phone--marketing", "post--marketing"]
    assert all(not checked for _, checked in boxes)  # nothing ticked for the person
    wording = wording_for(policy, purpose="marketing", channel=Channel.EMAIL)
    for key, phrase in [(MARKETING_EMAIL, "by email"), ("post--marketing", "by post")]:
        assert label_of(page.text, key) == f"{wording} ({phrase})"
    for key in ("email", "name", "organisation", "contacting_as-sole_trader"):
        assert f'<label for="{key}">' in page.text and f'id="{key}"' in page.text
    assert "opendpo_form_csrf" in page.headers["set-cookie"]
    assert "samesite=strict" in page.headers["set-cookie"].lower()


async def test_ticked_boxes_are_recorded_with_proof_and_confirmed_by_email(
    open_client: Open, engine: Engine, keyring: Keyring, policy: PolicyDocument, outbox: Path
) -> None:
    async with open_client() as client:
        token = await form_token(client, "/subscribe")
        shown = label_of((await client.get("/subscribe")).text, MARKETING_EMAIL)
        response = await client.post(
            "/subscribe",
            data={
                "csrf_token": token,
                "email": EMAIL,
                "name": "Jane Doe",
                "organisation": "Doe Plumbing",
                "contacting_as": "sole_trader",
                "consent": [MARKETING_EMAIL],
            },
            headers={"user-agent": "test browser/1.0"},
        )
        assert response.status_code == 200, response.text
        assert "We have recorded your choices" in response.text
        assert str(escape(shown)) in response.text
        person = person_of(engine, keyring, "jane.doe@example.com")
        assert person is not None and person.name == "Jane Doe"
        assert person.subscriber == "individual"  # PECR: a sole trader is an individual
        assert states(engine, person.id) == {("marketing", "email"): "given"}
        [record] = records(engine)
        assert (record.method, record.source, record.state) == ("web_form", "/subscribe", "given")
        assert record.wording == shown  # exactly what the box said
        assert record.client_address == "127.0.0.1"
        assert record.user_agent == "test browser/1.0"
        assert record.evidence == {
            "gpc": False,
            "contacting_as": "sole_trader",
            "organisation": "Doe Plumbing",
        }
        assert record.expires_at is None
        assert not decide_marketing(engine, keyring, policy, EMAIL)

        [message] = mails(outbox)
        assert message["To"] == "jane.doe@example.com"
        text = body(message)
        assert shown in text and "change your mind" in text
        centre = await client.get(preferences_path(message))
        assert centre.status_code == 200
        assert re.search(
            rf'id="{MARKETING_EMAIL}-yes" name="{MARKETING_EMAIL}" value="yes" checked', centre.text
        )


async def test_the_answer_does_not_say_whether_the_address_was_known(
    open_client: Open, engine: Engine, keyring: Keyring
) -> None:
    data = {"email": "known@example.com", "consent": [MARKETING_EMAIL]}
    async with open_client() as client:
        first = await submit(client, "/subscribe", data)
        assert person_of(engine, keyring, "known@example.com") is not None
        known = await submit(client, "/subscribe", data)
        unknown = await submit(client, "/subscribe", {**data, "email": "stranger@example.com"})
    assert known.status_code == 200
    assert_indistinguishable(known, unknown)
    assert_indistinguishable(first, known)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not an address", "consent": [MARKETING_EMAIL]}, "email"),
        ({"email": "", "consent": [MARKETING_EMAIL]}, "email"),
        ({"email": "a@example.com"}, "consent"),
        ({"email": "a@example.com", "consent": [MARKETING_EMAIL, "email--payroll"]}, "consent"),
        ({"email": "a@example.com", "consent": ["cookie--analytics"]}, "consent"),
        (
            {"email": "a@example.com", "consent": [MARKETING_EMAIL], "contacting_as": "x"},
            "contacting_as",
        ),
        ({"email": "a@example.com", "consent": [MARKETING_EMAIL], "name": "n" * 201}, "name"),
    ],
)
async def test_a_bad_form_comes_back_with_the_message_beside_the_field_and_nothing_written(
    open_client: Open, engine: Engine, outbox: Path, data: dict[str, object], field: str
) -> None:
    async with open_client() as client:
        response = await submit(client, "/subscribe", data)
    assert response.status_code == 422
    assert f'<small id="{field}-error" class="field-error">' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "nothing has been saved" in response.text
    if data.get("email") == "not an address":
        assert 'value="not an address"' in response.text  # what was typed stays
    assert records(engine) == []
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
    assert mails(outbox) == []


async def test_a_form_without_its_token_is_refused_and_nothing_written(
    open_client: Open, engine: Engine
) -> None:
    data = {"email": "a@example.com", "consent": MARKETING_EMAIL}
    async with open_client() as client:
        missing = await client.post("/subscribe", data=data)
        await form_token(client, "/subscribe")
        forged = await client.post("/subscribe", data={**data, "csrf_token": "x" * 43})
        odd = await client.post("/subscribe", data={**data, "csrf_token": "é" * 43})
    for response in (missing, forged, odd):
        assert response.status_code == 403
        assert "csrf_failed" in response.text
    assert records(engine) == []


async def test_a_corporate_declaration_cannot_loosen_the_rules_for_someone_known(
    open_client: Open, engine: Engine, keyring: Keyring
) -> None:
    base = {"email": "boss@example.com", "consent": [MARKETING_EMAIL]}
    async with open_client() as client:
        await submit(client, "/subscribe", {**base, "contacting_as": "organisation"})
        person = person_of(engine, keyring, "boss@example.com")
        assert person is not None and person.subscriber == "corporate"
        await submit(client, "/subscribe", {**base, "contacting_as": "individual"})
        person = person_of(engine, keyring, "boss@example.com")
        assert person is not None and person.subscriber == "individual"
        await submit(client, "/subscribe", {**base, "contacting_as": "organisation"})
        person = person_of(engine, keyring, "boss@example.com")
        assert person is not None and person.subscriber == "individual"


# Asking for a link


async def test_asking_for_a_link_answers_alike_and_mails_only_known_addresses(
    open_client: Open, engine: Engine, keyring: Keyring, outbox: Path
) -> None:
    async with open_client() as client:
        await submit(client, "/subscribe", {"email": EMAIL, "consent": [MARKETING_EMAIL]})
        assert len(mails(outbox)) == 1
        known = await submit(client, "/preferences", {"email": EMAIL.upper()})
        unknown = await submit(client, "/preferences", {"email": "nobody@example.com"})
        assert known.status_code == 200
        assert "If we hold that address" in known.text
        assert_indistinguishable(known, unknown)
        sent = mails(outbox)
        assert len(sent) == 2
        assert sent[1]["To"] == "jane.doe@example.com"
        person = person_of(engine, keyring, EMAIL)
        assert person is not None
        centre = await client.get(preferences_path(sent[1]))
        assert centre.status_code == 200
        assert centre.headers["cache-control"] == "no-store"


async def test_asking_for_a_link_is_limited_per_identity_known_or_not(
    open_client: Open, outbox: Path
) -> None:
    async with open_client(rate_limit_identity="2/hour") as client:
        for email in ("nobody@example.com", "NOBODY@example.com"):
            assert (await submit(client, "/preferences", {"email": email})).status_code == 200
        third = await submit(client, "/preferences", {"email": " nobody@EXAMPLE.com "})
        assert third.status_code == 429
        other = await submit(client, "/preferences", {"email": "other@example.com"})
        assert other.status_code == 200
    async with open_client(address="10.0.0.9", rate_limit_public="2/minute") as client:
        assert (await client.get("/preferences")).status_code == 200
        assert (await client.get("/preferences")).status_code == 200
        assert (await client.get("/preferences")).status_code == 429
    assert mails(outbox) == []


async def test_a_malformed_address_gets_the_form_again(open_client: Open, outbox: Path) -> None:
    async with open_client() as client:
        response = await submit(client, "/preferences", {"email": "jane@"})
    assert response.status_code == 422
    assert '<small id="email-error" class="field-error">' in response.text
    assert mails(outbox) == []


# The preference centre


async def subscribed(client_open: Open, outbox: Path, email: str = EMAIL) -> str:
    """Opt in to marketing by email; the preference centre's path from the confirmation."""
    async with client_open() as client:
        response = await submit(
            client, "/subscribe", {"email": email, "consent": [MARKETING_EMAIL]}
        )
        assert response.status_code == 200
    return preferences_path(mails(outbox)[-1])


async def test_the_centre_shows_every_question_with_the_current_answer(
    open_client: Open, outbox: Path
) -> None:
    path = await subscribed(open_client, outbox)
    async with open_client() as client:
        page = await client.get(path)
    assert page.status_code == 200
    text = page.text
    for key in (MARKETING_EMAIL, MARKETING_PHONE, "post--marketing", ANALYTICS):
        assert f'<label for="{key}-yes">Yes</label>' in text
        assert f'<label for="{key}-no">No</label>' in text
    assert 'value="yes" checked' in text.split(f'id="{MARKETING_EMAIL}-yes"')[1][:80]
    phone = text.split(f'id="{MARKETING_PHONE}-status"')[1][:60]
    assert "Not asked yet." in phone
    analytics = text.split(f'id="{ANALYTICS}-status"')[1][:60]
    assert "On, unless you say no." in analytics
    assert "strictly_necessary" not in text  # nothing to choose about those
    assert "Cookies on our website" in text


async def test_saying_no_is_one_answer_and_takes_effect_at_once(
    open_client: Open, engine: Engine, keyring: Keyring, policy: PolicyDocument, outbox: Path
) -> None:
    path = await subscribed(open_client, outbox)
    assert not decide_marketing(engine, keyring, policy, EMAIL)
    async with open_client() as client:
        token = await form_token(client, path)
        response = await client.post(
            path,
            data={
                "csrf_token": token,
                MARKETING_EMAIL: "no",
                MARKETING_PHONE: "yes",
                ANALYTICS: "yes",  # as shown: no record
            },
        )
    assert response.status_code == 200, response.text
    assert "Your choices are saved" in response.text
    assert decide_marketing(engine, keyring, policy, EMAIL) == {Reason.WITHDRAWN}
    written = records(engine)[1:]
    assert [(r.purpose, r.channel, r.state, r.method) for r in written] == [
        ("marketing", "email", "withdrawn", "preference_centre"),
        ("marketing", "phone", "given", "preference_centre"),
    ]
    assert all(r.source == "/preferences" and r.evidence == {"gpc": False} for r in written)
    assert written[0].wording is not None and written[0].wording.endswith("(by email)")
    assert f'id="{MARKETING_EMAIL}-no" name="{MARKETING_EMAIL}" value="no" checked' in response.text

    # Saying yes again is just as easy.
    async with open_client() as client:
        token = await form_token(client, path)
        await client.post(path, data={"csrf_token": token, MARKETING_EMAIL: "yes"})
    assert not decide_marketing(engine, keyring, policy, EMAIL)


async def test_objecting_to_analytics_is_recorded_as_a_refusal(
    open_client: Open, engine: Engine, keyring: Keyring, policy: PolicyDocument, outbox: Path
) -> None:
    path = await subscribed(open_client, outbox)
    async with open_client() as client:
        token = await form_token(client, path)
        await client.post(path, data={"csrf_token": token, ANALYTICS: "no", MARKETING_EMAIL: "yes"})
    written = records(engine)[1:]
    assert [(r.purpose, r.channel, r.state) for r in written] == [
        ("analytics", "cookie", "refused")
    ]
    with make_session_factory(engine)() as session:
        outcome = decide(
            session=session,
            keyring=keyring,
            policy=policy,
            identity_kind="email",
            identity_value=EMAIL,
            purpose="analytics",
            channel="cookie",
        )
    assert outcome.decision.reasons == (Reason.OBJECTION,)


async def test_a_purpose_needing_renewal_is_asked_again_with_the_current_wording(
    open_client: Open, engine: Engine, keyring: Keyring, policy: PolicyDocument, outbox: Path
) -> None:
    path = await subscribed(open_client, outbox)
    person = person_of(engine, keyring, EMAIL)
    assert person is not None
    with make_session_factory(engine)() as session, session.begin():
        current = session.get_one(CurrentConsent, (person.id, "marketing", "email"))
        current.needs_renewal = True
    async with open_client() as client:
        page = await client.get(path)
        status = page.text.split(f'id="{MARKETING_EMAIL}-status"')[1][:120]
        assert "please answer again" in status
        radios = page.text.split(f'id="{MARKETING_EMAIL}-yes"')[1][:200]
        assert "checked" not in radios  # no pre-selected yes to changed words
        wording = wording_for(policy, purpose="marketing", channel=Channel.EMAIL)
        assert legend_of(page.text, MARKETING_EMAIL) == f"{wording} (by email)"
        token = await form_token(client, path)
        await client.post(path, data={"csrf_token": token, MARKETING_EMAIL: "yes"})
    with make_session_factory(engine)() as session:
        renewed = session.get_one(CurrentConsent, (person.id, "marketing", "email"))
        assert renewed.state == "given" and not renewed.needs_renewal
        count = session.scalar(select(func.count()).select_from(ConsentRecord))
    assert count == 2


async def test_a_bad_or_misdirected_link_opens_nothing(
    open_client: Open, engine: Engine, keyring: Keyring, settings: Settings, outbox: Path
) -> None:
    await subscribed(open_client, outbox)
    person = person_of(engine, keyring, EMAIL)
    assert person is not None
    signer = LinkSigner(settings.secret_key.get_secret_value())
    wrong_purpose = signer.sign("unsubscribe", {"p": person.id})
    nobody = signer.sign("preferences", {"p": "no-such-person"})
    wrong_shape = signer.sign("preferences", ["p", person.id])
    async with open_client() as client:
        for token in ("garbage", wrong_purpose, nobody, wrong_shape):
            page = await client.get(f"/preferences/{token}")
            assert page.status_code == 400, token
            saved = await client.post(f"/preferences/{token}", data={MARKETING_EMAIL: "no"})
            assert saved.status_code == 400
    assert len(records(engine)) == 1


async def test_saving_needs_the_form_token(open_client: Open, engine: Engine, outbox: Path) -> None:
    path = await subscribed(open_client, outbox)
    async with open_client() as client:
        response = await client.post(path, data={MARKETING_EMAIL: "no"})
    assert response.status_code == 403
    assert len(records(engine)) == 1


# Email through a real SMTP server


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(envelope.content)
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port: the controller checks it by connecting
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_the_confirmation_goes_through_the_mail_server(
    open_client: Open, smtp_server: tuple[Inbox, int], outbox: Path
) -> None:
    inbox, port = smtp_server
    async with open_client(smtp_host="127.0.0.1", smtp_port=port) as client:
        response = await submit(
            client, "/subscribe", {"email": EMAIL, "consent": [MARKETING_EMAIL]}
        )
        assert response.status_code == 200
        assert inbox.arrived.wait(10)
        message = message_from_bytes(inbox.messages[0], policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        assert message["To"] == "jane.doe@example.com"
        centre = await client.get(preferences_path(message))
        assert centre.status_code == 200
    assert mails(outbox) == []


def test_links_last_as_long_as_the_email_says() -> None:
    assert dt.timedelta(days=LINK_DAYS) == dt.timedelta(seconds=LINK_LIFETIMES["preferences"])


async def test_the_person_can_have_receipts_of_their_consents_emailed(
    open_client: Open, outbox: Path
) -> None:
    path = await subscribed(open_client, outbox)
    async with open_client() as client:
        page = await client.get(path)
        assert "Email me a receipt of my consents" in page.text
        token = await form_token(client, path)
        await client.post(path, data={"csrf_token": token, MARKETING_PHONE: "yes"})
        refused = await client.post(f"{path}/receipt", data={"csrf_token": "x" * 43})
        assert refused.status_code == 403
        response = await client.post(f"{path}/receipt", data={"csrf_token": token})
    assert response.status_code == 200
    assert "We have emailed you a receipt" in response.text
    receipts = [m for m in mails(outbox) if "receipt" in m["Subject"]]
    assert len(receipts) == 2  # one per current answer: marketing by email and by phone
    assert {m["To"] for m in receipts} == {"jane.doe@example.com"}
    assert all(any(p.get_filename() for p in m.iter_attachments()) for m in receipts)
