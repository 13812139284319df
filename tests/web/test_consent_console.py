"""Consent in the console: a person's preferences and ledger on their page, consent recorded
by staff with its evidence, and the figures page open to every policy reader."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine, select, update
from staff_sessions import SignedIn, SignIn, as_staff

from opendpo.consent.ledger import (
    CollectionMethod,
    ConsentRecord,
    ConsentState,
    CurrentConsent,
    Proof,
    history_for_person,
)
from opendpo.consent.reports import last_weeks
from opendpo.consent.service import record_consent
from opendpo.consent.suppression import SuppressionReason, suppress
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import PolicyVersion, current_version
from opendpo.security import audit
from opendpo.security.audit import AuditEntry, AuditQuery
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import find_or_create_person
from opendpo.web.charts import Series, line_chart

pytestmark = pytest.mark.anyio

EMAIL = "jane.doe@example.com"
NAME = "Jane Doe"
NOTES = "Called 14:02, Jane said yes to product news by email."
WORDING = "Send me news about your products by email."


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    engine: Engine
    settings: Settings
    keyring: Keyring
    sign_in: SignIn
    policy: PolicyDocument
    person_id: str

    def as_role(self, role: Role) -> SignedIn:
        self.client.cookies.clear()
        signed_in = self.sign_in(role)
        as_staff(self.client, self.settings, signed_in)
        return signed_in

    def entries(self, action: str) -> list[AuditEntry]:
        with make_session_factory(self.engine)() as session:
            return list(audit.search(session=session, query=AuditQuery(action=action)))

    def records(self) -> list[ConsentRecord]:
        with make_session_factory(self.engine)() as session:
            return history_for_person(session=session, person_id=self.person_id)

    def record(
        self,
        state: ConsentState,
        at: dt.datetime,
        *,
        email: str = EMAIL,
        proof: Proof | None = None,
    ) -> str:
        with make_session_factory(self.engine)() as session, session.begin():
            version = current_version(session=session)
            assert version is not None
            person, _ = record_consent(
                session=session,
                keyring=self.keyring,
                policy=self.policy,
                policy_version=version.number,
                identities=[("email", email)],
                purpose="marketing_email",
                channel="email",
                state=state,
                proof=proof or Proof(method=CollectionMethod.WEB_FORM, source="/news"),
                wording=WORDING,
                now=at,
            )
            return person.id

    def date_policy(self, applied_at: dt.datetime) -> None:
        with make_session_factory(self.engine)() as session, session.begin():
            session.execute(update(PolicyVersion).values(applied_at=applied_at))


@pytest.fixture
async def world(
    app: FastAPI,
    anonymous_client: httpx.AsyncClient,
    applied: PolicyDocument,
    engine: Engine,
    settings: Settings,
    keyring: Keyring,
    sign_in: SignIn,
) -> AsyncIterator[World]:
    with make_session_factory(engine)() as session, session.begin():
        person = find_or_create_person(
            session=session, keyring=keyring, identities=[("email", EMAIL)], name=NAME
        )
    yield World(app, anonymous_client, engine, settings, keyring, sign_in, applied, person.id)


def flat(html: str) -> str:
    return re.sub(r">\s+<", "><", html)


def receipts_served(app: FastAPI) -> bool:
    return any(
        isinstance(r, APIRoute) and r.path == "/api/v1/consent/{record_id}/receipt"
        for r in app.routes
    )


async def test_the_person_page_shows_preferences_and_the_ledger_newest_first(
    world: World,
) -> None:
    now = dt.datetime.now(dt.UTC)
    world.record(ConsentState.GIVEN, now - dt.timedelta(days=3))
    staff = world.as_role(Role.AGENT)
    world.record(
        ConsentState.WITHDRAWN,
        now - dt.timedelta(days=1),
        proof=Proof(
            method=CollectionMethod.PHONE,
            staff_id=staff.user_id,
            evidence={"notes": "Asked to stop on the phone"},
        ),
    )
    response = await world.client.get(f"/console/people/{world.person_id}")
    assert response.status_code == 200
    page = flat(response.text)
    # The current preference: withdrawn, the latest answer.
    assert (
        '<th scope="row">Marketing emails</th><td>email</td>'
        '<td><span class="consent-state consent-withdrawn">withdrawn</span></td>'
    ) in page
    ledger = page.split('id="consent-history"')[1]
    assert ledger.index("consent-withdrawn") < ledger.index("consent-given")
    assert f"<summary>Show</summary><p>{WORDING}</p>" in ledger
    assert "<dt>notes</dt><dd>Asked to stop on the phone</dd>" in ledger
    assert f"recorded by {staff.username}" in ledger and "at /news" in ledger
    [first, second] = world.records()
    links = [f'href="/api/v1/consent/{r.id}/receipt"' for r in (first, second)]
    assert all((link in ledger) is receipts_served(world.app) for link in links)
    # The consent is part of the view its one audit entry records.
    [viewed] = world.entries("person.viewed")
    assert viewed.target_id == world.person_id and viewed.actor_id == staff.user_id


async def test_a_person_without_consent_says_so(world: World) -> None:
    world.as_role(Role.DPO)
    page = flat((await world.client.get(f"/console/people/{world.person_id}")).text)
    assert '<td colspan="6">No consent recorded.</td>' in page
    assert '<td colspan="8">No records.</td>' in page
    assert 'action="/console/people/' in page  # the form to record one is there


async def test_staff_record_consent_taken_by_phone(world: World) -> None:
    staff = world.as_role(Role.AGENT)
    response = await world.client.post(
        f"/console/people/{world.person_id}/consent",
        data={
            "purpose_channel": "marketing_email:email",
            "state": "given",
            "method": "phone",
            "evidence": f"  {NOTES} ",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/people/{world.person_id}#consent-history"
    [record] = world.records()
    assert (record.purpose, record.channel, record.state) == ("marketing_email", "email", "given")
    assert record.method == "phone" and record.staff_id == staff.user_id
    assert record.evidence == {"notes": NOTES}
    assert record.source == "console" and record.notice_version == "1.0"
    assert (
        record.wording == "Marketing emails: News about our products, sent to people who opted in."
    )
    [entry] = world.entries("consent.recorded")
    assert entry.actor_id == staff.user_id and entry.target_id == world.person_id
    assert entry.details == {
        "purpose": "marketing_email",
        "channel": "email",
        "state": "given",
        "method": "phone",
        "record_id": record.id,
    }
    logged = json.dumps([e.fields() for e in world.entries("")])
    assert NOTES not in logged and EMAIL not in logged and NAME not in logged

    page = flat((await world.client.get(response.headers["location"])).text)
    assert f"<dt>notes</dt><dd>{NOTES}</dd>" in page
    assert '<span class="consent-state consent-given">given</span>' in page
    with make_session_factory(world.engine)() as session:
        current = session.scalars(select(CurrentConsent)).one()
        assert current.state == "given" and current.record_seq == record.seq


async def test_consent_recorded_later_keeps_when_it_happened(world: World) -> None:
    world.date_policy(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    world.as_role(Role.DPO)
    response = await world.client.post(
        f"/console/people/{world.person_id}/consent",
        data={
            "purpose_channel": "marketing_email:email",
            "state": "refused",
            "method": "paper",
            "evidence": "Form ref P-118",
            "happened_at": "2026-01-10T09:30",
        },
    )
    assert response.status_code == 303
    [record] = world.records()
    assert record.at.replace(tzinfo=dt.UTC) == dt.datetime(2026, 1, 10, 9, 30, tzinfo=dt.UTC)
    assert record.state == "refused" and record.method == "paper"


FUTURE = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
GOOD = {
    "purpose_channel": "marketing_email:email",
    "state": "given",
    "method": "email",
    "evidence": "Email of 2 March, ref E-55",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose_channel": "client_contracts:email"}, "purpose-channel"),
        ({"purpose_channel": "marketing_email:sms"}, "purpose-channel"),
        ({"purpose_channel": ""}, "purpose-channel"),
        ({"state": "maybe"}, "state"),
        ({"method": "web_form"}, "method"),
        ({"evidence": "   "}, "evidence"),
        ({"happened_at": "last Tuesday"}, "happened-at"),
        ({"happened_at": FUTURE}, "happened-at"),
        ({"happened_at": "2001-05-01T10:00"}, "happened-at"),  # before any policy
    ],
)
async def test_bad_input_comes_back_beside_its_field_and_writes_nothing(
    world: World, change: dict[str, str], field: str
) -> None:
    world.date_policy(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    world.as_role(Role.AGENT)
    response = await world.client.post(
        f"/console/people/{world.person_id}/consent", data={**GOOD, **change}
    )
    assert response.status_code == 422
    assert f'<small id="consent-{field}-error" class="field-error">' in response.text
    assert f'aria-describedby="consent-{field}-error"' in response.text
    if field != "evidence":
        assert "Email of 2 March, ref E-55</textarea>" in response.text  # kept for a retry
    assert world.records() == []
    assert world.entries("consent.") == []
    # Showing the person again with the form is a view of their data.
    assert len(world.entries("person.viewed")) == 1


async def test_an_unknown_person_is_404(world: World) -> None:
    world.as_role(Role.DPO)
    response = await world.client.post("/console/people/no-one/consent", data=GOOD)
    assert response.status_code == 404
    assert world.entries("consent.") == []


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ENGINEER])
async def test_auditors_and_engineers_see_figures_but_no_person(world: World, role: Role) -> None:
    world.record(ConsentState.GIVEN, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    world.as_role(role)
    page = await world.client.get("/console/consent")
    assert page.status_code == 200
    assert '<a href="/console/consent" aria-current="page">Consent</a>' in page.text
    assert EMAIL not in page.text and NAME not in page.text
    for response in (
        await world.client.get(f"/console/people/{world.person_id}"),
        await world.client.post(f"/console/people/{world.person_id}/consent", data=GOOD),
    ):
        assert response.status_code == 403
        assert EMAIL not in response.text and NAME not in response.text
    assert len(world.records()) == 1


async def test_the_figures_page_charts_and_tabulates_the_ledger(world: World) -> None:
    now = dt.datetime.now(dt.UTC)
    weeks = last_weeks(now=now, count=4)
    day = dt.timedelta(days=1)
    world.record(ConsentState.GIVEN, weeks[1].start + day, email="c@example.com")
    world.record(ConsentState.GIVEN, weeks[2].start + day, email="a@example.com")
    world.record(ConsentState.REFUSED, weeks[2].start + 2 * day, email="b@example.com")
    world.record(ConsentState.WITHDRAWN, weeks[2].start + 3 * day, email="a@example.com")
    with make_session_factory(world.engine)() as session, session.begin():
        for value, reason in [
            ("x@example.com", SuppressionReason.UNSUBSCRIBED),
            ("y@example.com", SuppressionReason.COMPLAINT),
            ("z@example.com", SuppressionReason.UNSUBSCRIBED),
        ]:
            suppress(
                session=session,
                keyring=world.keyring,
                kind="email",
                value=value,
                channel="email",
                reason=reason,
            )
        session.execute(
            update(CurrentConsent).where(CurrentConsent.state == "given").values(needs_renewal=True)
        )
    world.as_role(Role.AUDITOR)
    response = await world.client.get("/console/consent", params={"weeks": "4"})
    assert response.status_code == 200
    page = flat(response.text)

    def row(index: int, cells: str) -> str:
        start = weeks[index].start
        return f'<th scope="row">{start.day} {start:%B %Y}</th>{cells}'

    assert row(0, "<td>0</td><td>0</td><td>—</td><td>0</td><td>0</td><td>0</td>") in page
    assert row(1, "<td>1</td><td>1</td><td>100%</td><td>1</td><td>0</td><td>0</td>") in page
    assert row(2, "<td>3</td><td>1</td><td>33%</td><td>1</td><td>1</td><td>1</td>") in page
    assert row(3, "<td>3</td><td>1</td><td>33%</td><td>0</td><td>0</td><td>0</td>") in page
    assert page.count('<tr><th scope="row">') >= 4

    svg = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img" aria-labelledby="consent-rates-title consent-rates-desc"' in svg
    assert '<title id="consent-rates-title">Consent rate per purpose, per week</title>' in svg
    label = f"{weeks[2].start.day} {weeks[2].start:%b} {weeks[2].start.year}"
    assert f"<title>Marketing emails, week of {label}: 33% (1 of 3 asked)</title>" in svg
    assert svg.count("<circle") == 3  # no point for the week before anyone was asked
    assert "<polyline" in svg and "Marketing emails</text>" in svg
    assert "style=" not in response.text  # the content security policy allows no inline style

    assert '<dd id="suppression-count">3</dd>' in page
    assert '<th scope="row">unsubscribed</th><td>2</td>' in page
    assert '<th scope="row">complaint</th><td>1</td>' in page
    assert '<th scope="row">Marketing emails</th><td>1</td>' in page  # c needs renewal
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        assert email not in response.text


@pytest.mark.parametrize("weeks", ["0", "105", "many"])
async def test_a_bad_number_of_weeks_is_named_beside_its_field(world: World, weeks: str) -> None:
    world.as_role(Role.ENGINEER)
    response = await world.client.get("/console/consent", params={"weeks": weeks})
    assert response.status_code == 422
    assert '<small id="consent-weeks-error" class="field-error">' in response.text
    assert f'value="{weeks}"' in response.text
    assert response.text.count('<th scope="row">') >= 12  # the default twelve weeks shown


async def test_the_console_nav_offers_consent_to_policy_readers_only(world: World) -> None:
    world.as_role(Role.ENGINEER)
    overview = await world.client.get("/console/")
    assert '<a href="/console/consent">Consent</a>' in overview.text
    world.client.cookies.clear()
    world.client.headers.pop("x-csrf-token", None)
    anonymous = await world.client.get("/console/consent")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(
        "/console/login"
    )


def test_the_chart_breaks_its_line_where_there_is_no_value_and_escapes_names() -> None:
    chart = line_chart(
        chart_id="c",
        title="Rates <now>",
        description="A & B",
        labels=["w1", "w2", "w3", "w4"],
        series=[Series("<b>News</b>", [10.0, None, 30.0, 40.0], ["a", "b", "c", "d"])],
    )
    assert "<b>" not in chart and "&lt;b&gt;News&lt;/b&gt;</text>" in chart
    assert '<title id="c-title">Rates &lt;now&gt;</title>' in chart
    assert '<desc id="c-desc">A &amp; B</desc>' in chart
    assert chart.count("<circle") == 3 and "<title>b</title>" not in chart
    assert chart.count("<polyline") == 1  # w3 to w4; w1 stands alone


def test_a_long_chart_labels_some_weeks_always_the_latest() -> None:
    labels = [f"week {n}" for n in range(52)]
    chart = line_chart(
        chart_id="c",
        title="t",
        description="d",
        labels=labels,
        series=[Series("s", [50.0] * 52, ["n"] * 52)],
    )
    shown = re.findall(r'text-anchor="middle" fill="#3d4654">(week \d+)</text>', chart)
    assert 4 <= len(shown) <= 13 and shown[-1] == "week 51"
