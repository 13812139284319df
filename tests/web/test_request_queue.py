"""The console's request queue and figures: due dates, days left, overdue and due-soon marks in
words, filters, no personal data in the listing, and the weekly chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine
from staff_sessions import SignIn, as_staff

from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import calendar
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request
from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind, AuditQuery
from opendpo.security.keyring import Keyring
from opendpo.security.links import LinkSigner
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio

STAFF = Actor(ActorKind.STAFF, "staff-1")


def today() -> dt.date:
    return calendar.local_date(dt.datetime.now(dt.UTC))


@pytest.fixture
def made(
    applied: PolicyDocument, engine: Engine, keyring: Keyring, settings: Settings
) -> dict[str, Request]:
    """Three confirmed access requests: overdue, due in two working days, and due later."""
    context = LetterContext(applied, LinkSigner("s" * 40), settings.base_url)
    due = {
        "overdue": calendar.add_working_days(today(), -2),
        "soon": calendar.add_working_days(today(), 2),
        "later": calendar.add_working_days(today(), 15),
    }
    found = {}
    with make_session_factory(engine)() as session, session.begin():
        for name, due_on in due.items():
            request, _ = submit_request(
                session=session,
                keyring=keyring,
                policy=applied,
                kind="access",
                identities=[("email", f"{name}@example.com")],
                details={},
                channel="email",
                actor=STAFF,
                context=context,
                verified_evidence="Replied from the address on file",
                evidence={"how_it_arrived": "email"},
            )
            request.due_on = due_on
            found[name] = request
        session.flush()
        for request in found.values():
            session.expunge(request)
    return found


@pytest.fixture
async def desk(
    client: httpx.AsyncClient, made: dict[str, Request]
) -> AsyncIterator[httpx.AsyncClient]:
    yield client


def row_of(page: str, reference: str) -> str:
    start = page.index(reference)
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


async def test_the_queue_shows_due_dates_days_left_and_marks_in_words(
    desk: httpx.AsyncClient, made: dict[str, Request], engine: Engine
) -> None:
    page = await desk.get("/console/requests")
    assert page.status_code == 200
    text = page.text
    # Soonest due first.
    positions = [text.index(made[name].reference) for name in ("overdue", "soon", "later")]
    assert positions == sorted(positions)
    overdue = row_of(text, made["overdue"].reference)
    assert 'class="overdue"' in overdue and "<strong>Overdue</strong>" in overdue
    assert "2 working days late" in overdue
    soon = row_of(text, made["soon"].reference)
    assert 'class="due-soon"' in soon and "Due soon" in soon
    later = row_of(text, made["later"].reference)
    assert (
        "Overdue" not in later
        and "Due soon" not in later
        and ">15<" in later.replace("\n", "").replace(" ", "")
    )
    due = made["soon"].due_on
    assert due is not None and f"{due.day} {due:%B %Y}" in soon
    # No personal data in the listing, and so no audit entry for reading it.
    assert "@example.com" not in text
    with make_session_factory(engine)() as session:
        assert audit.search(session=session, query=AuditQuery(action="request.")) == []


async def test_filters_narrow_the_queue(desk: httpx.AsyncClient, made: dict[str, Request]) -> None:
    overdue_only = (await desk.get("/console/requests?overdue=1")).text
    assert made["overdue"].reference in overdue_only
    assert made["later"].reference not in overdue_only
    searched = (await desk.get(f"/console/requests?q={made['later'].reference}")).text
    assert made["later"].reference in searched and made["soon"].reference not in searched
    mine = (await desk.get("/console/requests?assigned=me")).text
    assert "No requests match." in mine
    closed = (await desk.get("/console/requests?status=closed")).text
    assert "No requests match." in closed
    bad = await desk.get("/console/requests?kind=wishes")
    assert bad.status_code == 422 and 'id="queue-kind-error"' in bad.text


async def test_the_figures_draw_both_charts_and_a_table(
    desk: httpx.AsyncClient, made: dict[str, Request]
) -> None:
    page = await desk.get("/console/requests/figures")
    assert page.status_code == 200
    assert 'id="requests-counts"' in page.text and 'id="requests-on-time"' in page.text
    year, week, _ = today().isocalendar()
    assert f"{year}-W{week:02d}" in page.text
    assert page.text.count("<tr>") >= 12 + 1


async def test_auditors_see_figures_but_not_the_queue(
    desk: httpx.AsyncClient, settings: Settings, sign_in: SignIn
) -> None:
    assert 'href="/console/requests"' in (await desk.get("/console/")).text
    desk.cookies.clear()
    as_staff(desk, settings, sign_in(Role.AUDITOR))
    assert (await desk.get("/console/requests")).status_code == 403
    assert (await desk.get("/console/requests/figures")).status_code == 200
    assert 'href="/console/requests"' not in (await desk.get("/console/")).text
