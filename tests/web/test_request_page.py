"""A request in the console: logged by staff, viewed (audited), and worked step by step, each
step audited without personal data, its letter sent, and refused steps explained."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from staff_sessions import SignedIn, SignIn, as_staff

from opendpo.mail.sender import outbox_messages
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import calendar
from opendpo.rights.records import Request
from opendpo.security import audit
from opendpo.security.audit import AuditEntry, AuditQuery
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import find_or_create_person
from opendpo.web.app import create_app

pytestmark = pytest.mark.anyio

EMAIL = "jane.doe@example.com"
VERSION = re.compile(r'name="version" value="(\d+)"')


class Desk:
    """A signed-in staff member's client, the store behind it and the outbox."""

    def __init__(
        self, client: httpx.AsyncClient, engine: Engine, outbox: Path, staff: SignedIn
    ) -> None:
        self.client = client
        self.engine = engine
        self.outbox = outbox
        self.staff = staff

    def request(self, request_id: str) -> Request:
        with make_session_factory(self.engine)() as session:
            found = session.get(Request, request_id)
            assert found is not None
            session.expunge(found)
            return found

    def entries(self, action: str) -> list[AuditEntry]:
        with make_session_factory(self.engine)() as session:
            return list(audit.search(session=session, query=AuditQuery(action=action)))

    def mails(self) -> list[EmailMessage]:
        found = []
        for path in reversed(outbox_messages(self.outbox)):
            message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    async def log(self, **fields: str) -> str:
        form = {"kind": "access", "channel": "phone", "email": EMAIL, **fields}
        form.setdefault("evidence", "Call at 10:05, notes in the CRM")
        response = await self.client.post("/console/requests/new", data=form)
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith("/console/requests/")
        return location.rsplit("/", 1)[1]

    async def act(self, request_id: str, action: str, **fields: str) -> httpx.Response:
        page = await self.client.get(f"/console/requests/{request_id}")
        found = VERSION.search(page.text)
        assert found is not None, page.text
        data = {"version": found.group(1), **fields}
        return await self.client.post(f"/console/requests/{request_id}/{action}", data=data)


@pytest.fixture
async def desk(
    applied: PolicyDocument, settings: Settings, engine: Engine, sign_in: SignIn, tmp_path: Path
) -> AsyncIterator[Desk]:
    outbox = tmp_path / "outbox"
    app = create_app(settings.model_copy(update={"outbox_path": outbox}))
    transport = httpx.ASGITransport(app=app)
    staff = sign_in(Role.AGENT)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        as_staff(client, settings, staff)
        yield Desk(client, engine, outbox, staff)


def no_values(entry: AuditEntry) -> None:
    assert EMAIL not in str(entry.details)


async def test_a_phoned_in_request_is_logged_and_the_person_sent_a_code(desk: Desk) -> None:
    request_id = await desk.log(name="Jane Doe", description="Everything you hold")
    found = desk.request(request_id)
    assert (found.status, found.channel) == ("awaiting_verification", "phone")
    assert found.evidence == {"how_it_arrived": "Call at 10:05, notes in the CRM"}
    [entry] = desk.entries("request.logged")
    assert entry.target_kind == "request" and entry.target_id == request_id
    assert entry.actor_id == desk.staff.user_id
    assert entry.details["channel"] == "phone" and entry.details["identities"] == ["email"]
    no_values(entry)
    [mail] = desk.mails()
    assert mail["To"] == EMAIL and re.search(r"\b\d{6}\b", mail.get_content())


async def test_confirmed_by_staff_the_clock_starts_on_receipt(desk: Desk) -> None:
    request_id = await desk.log(confirmed="1", verified_evidence="Passport seen at the desk")
    found = desk.request(request_id)
    today = calendar.local_date(dt.datetime.now(dt.UTC))
    expected = calendar.due(kind="access", starts=today).due
    assert (found.status, found.due_on) == ("verified", expected)
    page = await desk.client.get(f"/console/requests/{request_id}")
    assert f"{expected.day} {expected:%B %Y}" in page.text
    assert "Passport seen at the desk" in page.text


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"evidence": ""}, "evidence", "say how the request arrived"),
        ({"email": "not-an-email"}, "email", ""),
        ({"channel": "privacy_centre"}, "channel", "phone, email, post or in person"),
        ({"confirmed": "1"}, "verified_evidence", "how you confirmed"),
        ({"received_on": "2999-01-01"}, "received_on", "future"),
        ({"corrections": "my name"}, "corrections", "not a field of a"),
    ],
)
async def test_a_bad_log_form_comes_back_with_the_field_named(
    desk: Desk, fields: dict[str, str], field: str, words: str
) -> None:
    form = {"kind": "access", "channel": "phone", "email": EMAIL, "evidence": "Call", **fields}
    response = await desk.client.post("/console/requests/new", data=form)
    assert response.status_code == 422
    assert f'id="new-{field}-error"' in response.text
    assert words in response.text
    with make_session_factory(desk.engine)() as session:
        assert session.scalars(select(Request)).all() == []


async def test_each_view_is_audited_and_shows_what_was_asked(desk: Desk) -> None:
    request_id = await desk.log(description="Copies of my call recordings")
    for _ in range(2):
        page = await desk.client.get(f"/console/requests/{request_id}")
        assert page.status_code == 200
    assert EMAIL in page.text and "Copies of my call recordings" in page.text
    assert "Not confirmed" in page.text
    views = desk.entries("request.viewed")
    assert len(views) == 2 and all(e.target_id == request_id for e in views)
    assert all(e.details == {} for e in views)


async def test_worked_from_start_to_completion_with_a_letter(desk: Desk) -> None:
    request_id = await desk.log(confirmed="1", verified_evidence="Called back")
    assert (await desk.act(request_id, "assign", staff="me")).status_code == 303
    assert (await desk.act(request_id, "begin")).status_code == 303
    assert desk.request(request_id).status == "in_progress"
    assert (await desk.act(request_id, "note", note="Asked the CRM team")).status_code == 303
    response = await desk.act(request_id, "complete", response="Your data is attached.")
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/requests/{request_id}"
    found = desk.request(request_id)
    assert (found.status, found.response, found.assigned_to) == (
        "completed",
        "Your data is attached.",
        desk.staff.user_id,
    )
    assert "Your data is attached." in desk.mails()[-1].get_content()
    for verb in ("assigned", "begun", "noted", "completed"):
        [entry] = desk.entries(f"request.{verb}")
        assert (entry.target_kind, entry.target_id) == ("request", request_id)
        assert "Asked the CRM team" not in str(entry.details)
        assert "Your data is attached." not in str(entry.details)
        no_values(entry)
    page = await desk.client.get(f"/console/requests/{request_id}")
    assert "Asked the CRM team" in page.text and desk.staff.username in page.text
    assert "verified → in progress" in page.text and "in progress → completed" in page.text


async def test_a_form_older_than_the_request_is_refused_not_applied(desk: Desk) -> None:
    request_id = await desk.log(confirmed="1", verified_evidence="Called back")
    version = str(desk.request(request_id).version)
    await desk.act(request_id, "note", note="Someone else got here first")
    response = await desk.client.post(
        f"/console/requests/{request_id}/begin", data={"version": version}
    )
    assert response.status_code == 409
    assert "Someone else changed this request" in response.text
    assert desk.request(request_id).status == "verified"
    assert desk.entries("request.begun") == []


async def test_a_step_the_workflow_refuses_is_explained(desk: Desk) -> None:
    request_id = await desk.log()  # still awaiting verification: cannot be begun
    response = await desk.act(request_id, "begin")
    assert response.status_code == 409
    assert "cannot become in progress" in response.text
    empty = await desk.act(request_id, "cancel", reason="   ")
    assert empty.status_code == 422
    assert 'id="cancel-reason-error"' in empty.text and "must not be empty" in empty.text
    assert desk.request(request_id).status == "awaiting_verification"
    unknown = await desk.act(request_id, "explode")
    assert unknown.status_code == 404


async def test_extension_pause_and_resume_move_the_due_date(desk: Desk) -> None:
    request_id = await desk.log(confirmed="1", verified_evidence="Called back")
    first = desk.request(request_id).due_on
    assert first is not None
    page = await desk.client.get(f"/console/requests/{request_id}")
    assert "Extend the deadline" in page.text
    bad = await desk.act(request_id, "extend", months="3", reason="Complex")
    assert bad.status_code == 422 and 'id="extend-months-error"' in bad.text
    assert (await desk.act(request_id, "extend", months="2", reason="Many systems")).status_code
    extended = desk.request(request_id)
    assert extended.extended_months == 2
    assert (
        extended.due_on
        == calendar.due(
            kind="access", starts=extended.clock_starts_on or first, extended_months=2
        ).due
    )
    page = await desk.client.get(f"/console/requests/{request_id}")
    assert "Extend the deadline" not in page.text  # two months in all: no more to give
    [entry] = desk.entries("request.extended")
    assert entry.details["months"] == 2 and "Many systems" not in str(entry.details)
    await desk.act(request_id, "pause", question="Which account do you mean?")
    assert desk.request(request_id).pauses[0].ended_on is None
    await desk.act(request_id, "resume", note="They replied")
    assert desk.request(request_id).pauses[0].ended_on is not None
    letters = [m["Subject"] for m in desk.mails()]
    assert len(letters) >= 3  # acknowledgement, extension, clarification


async def test_staff_confirm_an_identity_with_evidence(desk: Desk) -> None:
    request_id = await desk.log(phone="07700 900123")
    found = desk.request(request_id)
    phone = next(i for i in found.identities if i.kind == "phone")
    response = await desk.act(
        request_id, "verify", identity_id=str(phone.id), evidence="Called the number back"
    )
    assert response.status_code == 303
    after = desk.request(request_id)
    assert next(i for i in after.identities if i.kind == "phone").verified_at is not None
    # The email is still to be confirmed by its code: one identity never confirms another.
    assert after.status == "awaiting_verification"
    [entry] = desk.entries("request.identity_verified")
    assert entry.details["identity_kind"] == "phone" and "07700" not in str(entry.details)


async def test_refuse_and_cancel_close_the_request(desk: Desk) -> None:
    refused = await desk.log(confirmed="1", verified_evidence="Called back")
    response = await desk.act(
        refused, "refuse", reason="manifestly_excessive", explanation="Tenth this month."
    )
    assert response.status_code == 303
    assert desk.request(refused).refusal_reason == "manifestly_excessive"
    assert "Information Commissioner" in desk.mails()[-1].get_content()
    [entry] = desk.entries("request.refused")
    assert entry.details["reason"] == "manifestly_excessive"
    cancelled = await desk.log()
    assert (await desk.act(cancelled, "cancel", reason="Duplicate")).status_code == 303
    assert desk.request(cancelled).status == "cancelled"


async def test_auditors_cannot_read_and_cannot_act(
    desk: Desk, settings: Settings, sign_in: SignIn
) -> None:
    request_id = await desk.log()
    desk.client.cookies.clear()
    as_staff(desk.client, settings, sign_in(Role.AUDITOR))
    page = await desk.client.get(f"/console/requests/{request_id}")
    assert page.status_code == 403
    response = await desk.client.post(f"/console/requests/{request_id}/begin", data={})
    assert response.status_code == 403


async def test_the_person_page_lists_their_requests(desk: Desk, keyring: Keyring) -> None:
    with make_session_factory(desk.engine)() as session, session.begin():
        person = find_or_create_person(
            session=session, keyring=keyring, identities=[("email", EMAIL)]
        )
        person_id = person.id
    request_id = await desk.log(confirmed="1", verified_evidence="Called back")
    reference = desk.request(request_id).reference
    page = await desk.client.get(f"/console/people/{person_id}")
    assert page.status_code == 200
    assert f'<a href="/console/requests/{request_id}">{reference}</a>' in page.text
    request_page = await desk.client.get(f"/console/requests/{request_id}")
    assert f'href="/console/people/{person_id}"' in request_page.text
