"""The privacy centre in-process on SQLite and PostgreSQL: asking, proving the address with
the emailed code, following and withdrawing a request, finding lost links, and every
malformed field refused with a message beside it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from consent_forms import Open, body, connect_ib, form_token, mails, opener, submit
from sqlalchemy import Engine, select, update

from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import clock, workflow
from opendpo.rights.calendar import due, local_date
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request, RequestIdentity
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio

EMAIL = "Jane.Doe@Example.com"
NEW = "/privacy-centre/requests/new"
CODE = re.compile(r"^\s+(\d{6})\s*$", re.MULTILINE)
STATUS_LINK = re.compile(r"https?://\S+(/privacy-centre/requests/[A-Za-z0-9_.\-]+)")


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


def code_in(outbox: Path) -> str:
    found = CODE.search(body(mails(outbox)[-1]))
    assert found is not None
    return found.group(1)


async def ask(client: httpx.AsyncClient, kind: str = "access", **fields: str) -> httpx.Response:
    return await submit(client, f"{NEW}?kind={kind}", {"email": EMAIL, **fields})


async def enter(client: httpx.AsyncClient, verify_path: str, code: str) -> httpx.Response:
    token = await form_token(client, verify_path)
    return await client.post(verify_path, data={"csrf_token": token, "code": code})


def stored(engine: Engine) -> list[Request]:
    with make_session_factory(engine)() as session:
        found = list(session.scalars(select(Request).order_by(Request.received_at)))
        for request in found:
            _ = request.identities
        session.expunge_all()
        return found


async def test_a_person_asks_confirms_with_the_emailed_code_and_follows_the_request(
    open_client: Open, outbox: Path, engine: Engine
) -> None:
    async with open_client() as client:
        overview = await client.get("/privacy-centre")
        assert overview.status_code == 200
        assert f'href="http://testserver{NEW}?kind=access"' in overview.text
        assert "within one month" in overview.text and "10 working days" in overview.text
        assert "within 30 days" in overview.text
        assert "datamanagement@smartspaceplc.com" in overview.text  # other ways to ask

        sent = await ask(client, description="I was a customer in 2023.")
        assert sent.status_code == 303
        verify_path = sent.headers["location"]
        assert verify_path.startswith("/privacy-centre/verify/")
        [letter] = mails(outbox)
        assert letter["To"] == "jane.doe@example.com"
        [request] = stored(engine)
        assert request.status == "awaiting_verification"
        assert request.channel == "privacy_centre"
        assert request.details == {"description": "I was a customer in 2023."}

        page = await client.get(verify_path)
        assert page.status_code == 200
        assert 'inputmode="numeric"' in page.text
        assert 'autocomplete="one-time-code"' in page.text
        assert "outbox folder" not in page.text  # not a demo
        assert page.headers["cache-control"] == "no-store"

        done = await enter(client, verify_path, code_in(outbox))
        assert done.status_code == 303
        status_path = done.headers["location"]
        acknowledgement = mails(outbox)[-1]
        assert acknowledgement["Subject"] == f"We have your request {request.reference}"
        link = STATUS_LINK.search(body(acknowledgement))
        assert link is not None and link.group(1) == status_path

        status = await client.get(status_path)
    assert status.status_code == 200
    [request] = stored(engine)
    assert request.status == "verified" and request.due_on is not None
    expected = due(kind="access", starts=local_date(request.received_at)).due
    assert request.due_on == expected
    assert "Identity confirmed" in status.text
    assert f"{expected.day} {expected:%B %Y}" in status.text
    assert request.reference in status.text
    assert "I was a customer in 2023." in status.text
    assert "We received your request." in status.text


async def test_a_wrong_code_is_refused_beside_the_field_and_counted(
    open_client: Open, outbox: Path, engine: Engine
) -> None:
    async with open_client() as client:
        verify_path = (await ask(client)).headers["location"]
        right = code_in(outbox)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        refused = await enter(client, verify_path, wrong)
        assert refused.status_code == 422
        assert 'id="code-error"' in refused.text and 'aria-invalid="true"' in refused.text
        assert "That code is not right or has expired." in refused.text
        assert 'href="#code"' in refused.text  # the error summary points at the field
        [request] = stored(engine)
        assert request.identities[0].code_attempts == 1
        assert request.status == "awaiting_verification"
        assert (await enter(client, verify_path, right)).status_code == 303


async def test_a_new_code_replaces_the_old_and_sending_is_limited(
    open_client: Open, outbox: Path, engine: Engine
) -> None:
    async with open_client() as client:
        verify_path = (await ask(client)).headers["location"]
        first = code_in(outbox)

        async def resend() -> httpx.Response:
            token = await form_token(client, verify_path)
            return await client.post(f"{verify_path}/resend", data={"csrf_token": token})

        too_soon = await resend()
        assert too_soon.status_code == 409
        assert "Wait a minute" in too_soon.text
        assert len(mails(outbox)) == 1

        for sends in range(2, 6):
            with make_session_factory(engine)() as session, session.begin():
                session.execute(
                    update(RequestIdentity).values(
                        code_sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
                    )
                )
            again = await resend()
            assert again.status_code == 200
            assert "We have emailed you a new code" in again.text
            assert len(mails(outbox)) == sends
        with make_session_factory(engine)() as session, session.begin():
            session.execute(
                update(RequestIdentity).values(
                    code_sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
                )
            )
        spent = await resend()
        assert spent.status_code == 409
        assert "as many codes as we can" in spent.text
        assert len(mails(outbox)) == 5

        latest = code_in(outbox)
        if latest != first:
            assert (await enter(client, verify_path, first)).status_code == 422
        assert (await enter(client, verify_path, latest)).status_code == 303


async def test_code_attempts_are_limited_per_request(open_client: Open, outbox: Path) -> None:
    async with open_client(rate_limit_identity="3/hour") as client:
        verify_path = (await ask(client)).headers["location"]
        right = code_in(outbox)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        for _ in range(3):
            assert (await enter(client, verify_path, wrong)).status_code == 422
        assert (await enter(client, verify_path, right)).status_code == 429


async def test_code_attempts_are_limited_per_address(open_client: Open, outbox: Path) -> None:
    async with open_client(rate_limit_codes="2/hour") as client:
        verify_path = (await ask(client)).headers["location"]
        right = code_in(outbox)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        assert (await enter(client, verify_path, wrong)).status_code == 422
        assert (await enter(client, verify_path, wrong)).status_code == 422
        limited = await enter(client, verify_path, right)
        assert limited.status_code == 429 and "retry-after" in limited.headers


MALFORMED: list[tuple[str, dict[str, str], str]] = [
    ("access", {"email": ""}, "email"),
    ("access", {"email": "not-an-address"}, "email"),
    ("access", {"phone": "12"}, "phone"),
    ("access", {"name": "x" * 10_001}, "name"),
    ("access", {"description": "x" * 10_001}, "description"),
    ("rectification", {}, "corrections"),
    ("objection", {}, "ground"),
    ("objection", {"ground": "because"}, "ground"),
    ("human_review", {}, "decision"),
    ("complaint", {}, "complaint"),
    ("portability", {"destination": "http://example.com/inbox"}, "destination"),
]


@pytest.mark.parametrize(("kind", "fields", "field"), MALFORMED)
async def test_every_malformed_field_is_named_beside_it_and_kept(
    open_client: Open, outbox: Path, engine: Engine, kind: str, fields: dict[str, str], field: str
) -> None:
    async with open_client() as client:
        refused = await submit(
            client, f"{NEW}?kind={kind}", {"email": EMAIL, "name": "Jane", **fields}
        )
    assert refused.status_code == 422
    assert f'id="{field}-error"' in refused.text
    assert f'href="#{field}"' in refused.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', refused.text)
    assert re.search(rf'aria-describedby="[^"]*{field}-error', refused.text)
    if field != "email":
        assert 'value="Jane.Doe@Example.com"' in refused.text  # what was typed is kept
    assert stored(engine) == [] and mails(outbox) == []


async def test_an_unknown_kind_is_refused_naming_the_field(open_client: Open) -> None:
    async with open_client() as client:
        page = await client.get(f"{NEW}?kind=everything")
        assert page.status_code == 422
        assert "<strong>kind</strong>" in page.text
        chooser = await client.get(NEW)
        assert chooser.status_code == 303
        assert chooser.headers["location"] == "/privacy-centre#rights"


async def test_each_kind_asks_for_its_own_fields(open_client: Open) -> None:
    async with open_client() as client:
        rectification = await client.get(f"{NEW}?kind=rectification")
        objection = await client.get(f"{NEW}?kind=objection")
        portability = await client.get(f"{NEW}?kind=portability")
    assert '<textarea id="corrections"' in rectification.text
    assert 'id="ground-direct_marketing"' in objection.text
    assert "direct marketing we always stop" in objection.text
    assert 'type="url" id="destination"' in portability.text
    for page in (rectification, objection, portability):
        for name in ("email", "name", "phone"):
            assert f'<label for="{name}">' in page.text


async def test_a_detailed_request_is_stored_as_typed(
    open_client: Open, outbox: Path, engine: Engine
) -> None:
    async with open_client() as client:
        sent = await ask(client, kind="objection", ground="direct_marketing", phone="020 7946 0000")
        assert sent.status_code == 303
        await enter(client, sent.headers["location"], code_in(outbox))
        [request] = stored(engine)
        # The telephone number is not proved by an email code: staff check it.
        assert request.status == "awaiting_verification"
        assert request.details == {"ground": "direct_marketing"}
        assert [i.kind for i in request.identities] == ["email", "phone"]


async def test_a_person_withdraws_an_open_request_after_confirming(
    open_client: Open, outbox: Path, engine: Engine
) -> None:
    async with open_client() as client:
        verify_path = (await ask(client)).headers["location"]
        status_path = (await enter(client, verify_path, code_in(outbox))).headers["location"]
        confirm = await client.get(f"{status_path}/cancel")
        assert confirm.status_code == 200
        assert "Yes, withdraw my request" in confirm.text
        [request] = stored(engine)
        assert request.status == "verified"  # asking is not doing
        token = await form_token(client, f"{status_path}/cancel")
        done = await client.post(f"{status_path}/cancel", data={"csrf_token": token})
        assert done.status_code == 303
        assert done.headers["location"].startswith("/privacy-centre/requests/")
        [request] = stored(engine)
        assert request.status == "cancelled"
        assert mails(outbox)[-1]["To"] == "jane.doe@example.com"
        page = await client.get(status_path)
        assert "Cancelled" in page.text and "withdraw this request" not in page.text
        again = await client.post(f"{status_path}/cancel", data={"csrf_token": token})
        assert again.status_code == 409


async def test_the_answer_and_the_right_to_complain_are_shown_once_refused(
    open_client: Open, outbox: Path, engine: Engine, settings: Settings
) -> None:
    async with open_client() as client:
        verify_path = (await ask(client)).headers["location"]
        status_path = (await enter(client, verify_path, code_in(outbox))).headers["location"]
        with make_session_factory(engine)() as session, session.begin():
            request = session.scalars(select(Request)).one()
            context = LetterContext(
                connect_ib(),
                LinkSigner(settings.secret_key.get_secret_value()),
                settings.base_url,
            )
            clock.extend(
                session=session,
                request=request,
                actor=Actor(ActorKind.STAFF, id="dpo"),
                months=1,
                reason="Your data is in many systems.",
                context=context,
            )
            workflow.refuse(
                session=session,
                request=request,
                actor=Actor(ActorKind.STAFF, id="dpo"),
                reason="manifestly_excessive",
                explanation="You asked for the same data every day this month.",
                context=context,
            )
        page = await client.get(status_path)
    assert "We need 1 more month to answer" in page.text
    assert "Your data is in many systems." in page.text
    assert "You asked for the same data every day this month." in page.text
    assert "manifestly excessive" in page.text
    assert "Information Commissioner" in page.text


async def test_lost_links_go_only_to_a_proved_address_and_the_answer_is_the_same(
    open_client: Open, outbox: Path
) -> None:
    async with open_client() as client:
        verify_path = (await ask(client)).headers["location"]
        unproved = await submit(client, "/privacy-centre/find", {"email": EMAIL})
        assert len(mails(outbox)) == 1  # the code only: a request not yet proved is not found
        assert (await enter(client, verify_path, code_in(outbox))).status_code == 303
        sent = len(mails(outbox))
        proved = await submit(client, "/privacy-centre/find", {"email": EMAIL.upper()})
        assert proved.status_code == 200
        assert "If we have requests for this address, we have emailed links to it" in proved.text
        assert proved.content == unproved.content
        letter = mails(outbox)[-1]
        assert len(mails(outbox)) == sent + 1 and letter["To"] == "jane.doe@example.com"
        link = STATUS_LINK.search(body(letter))
        assert link is not None
        assert (await client.get(link.group(1))).status_code == 200
        bad = await submit(client, "/privacy-centre/find", {"email": "nobody"})
        assert bad.status_code == 422 and 'id="email-error"' in bad.text


async def test_a_restart_between_steps_loses_nothing(
    open_client: Open, outbox: Path, engine: Engine
) -> None:
    async with open_client() as client:
        verify_path = (await ask(client, kind="rectification", corrections="My title")).headers[
            "location"
        ]
    async with open_client() as client:  # a new app over the same store
        assert (await client.get(verify_path)).status_code == 200
        status_path = (await enter(client, verify_path, code_in(outbox))).headers["location"]
    async with open_client() as client:
        page = await client.get(status_path)
        assert page.status_code == 200 and "Identity confirmed" in page.text
        assert "My title" in page.text
        token = await form_token(client, f"{status_path}/cancel")
        assert (
            await client.post(f"{status_path}/cancel", data={"csrf_token": token})
        ).status_code == 303
    [request] = stored(engine)
    assert request.status == "cancelled" and request.details == {"corrections": "My title"}


async def test_bad_links_get_the_one_generic_error(open_client: Open) -> None:
    async with open_client() as client:
        for path in (
            "/privacy-centre/verify/not-a-token",
            "/privacy-centre/requests/not-a-token",
            "/privacy-centre/requests/not-a-token/cancel",
        ):
            page = await client.get(path)
            assert page.status_code == 400 and "<code>link_invalid</code>" in page.text


async def test_the_demo_says_where_the_code_went_and_only_the_demo(
    open_client: Open, outbox: Path
) -> None:
    async with open_client(demo=True) as client:
        demo = await client.get((await ask(client)).headers["location"])
    assert f"Demo: the email is in the outbox folder at <code>{outbox.resolve()}</code>" in (
        demo.text
    )


async def test_the_notice_links_to_the_privacy_centre(open_client: Open) -> None:
    async with open_client() as client:
        notice = await client.get("/")
    assert 'href="http://testserver/privacy-centre"' in notice.text
