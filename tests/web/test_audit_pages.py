"""The audit log in the console and over the API: search, paging, the CSV export (itself
audited, streamed in batches), and the audit of every other export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine
from staff_sessions import SignedIn, SignIn, as_staff

from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind, AuditQuery
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.pages import audit_log
from opendpo.web.state import WebState

pytestmark = pytest.mark.anyio

DAY = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


@dataclass
class Log:
    client: httpx.AsyncClient
    me: SignedIn
    engine: Engine
    keyring: Keyring

    def write(self, action: str, *, count: int = 1, at: dt.datetime = DAY, **fields: str) -> None:
        with make_session_factory(self.engine)() as session, session.begin():
            for index in range(count):
                audit.record(
                    session=session,
                    keyring=self.keyring,
                    actor=Actor(ActorKind.SYSTEM, fields.get("actor_id", "tests")),
                    action=action,
                    target_kind=fields.get("target_kind"),
                    target_id=fields.get("target_id"),
                    details={"n": index},
                    now=at + dt.timedelta(seconds=index),
                )

    def entries(self, action: str) -> list[audit.AuditEntry]:
        with make_session_factory(self.engine)() as session:
            return list(audit.search(session=session, query=AuditQuery(action=action)))


@pytest.fixture
async def log(
    anonymous_client: httpx.AsyncClient,
    engine: Engine,
    settings: Settings,
    sign_in: SignIn,
    keyring: Keyring,
) -> AsyncIterator[Log]:
    """The console as an auditor: the role that reads the log and nothing personal."""
    me = sign_in(Role.AUDITOR)
    as_staff(anonymous_client, settings, me)
    yield Log(anonymous_client, me, engine, keyring)


async def test_the_log_reads_newest_first_and_reading_it_is_not_audited(log: Log) -> None:
    log.write("thing.first")
    log.write("thing.second", at=DAY + dt.timedelta(hours=1))
    before = len(log.entries(""))
    response = await log.client.get("/console/audit")
    assert response.status_code == 200
    assert response.text.index("thing.second") < response.text.index("thing.first")
    assert len(log.entries("")) == before


async def test_the_filters_narrow_the_search(log: Log) -> None:
    log.write("person.viewed", target_kind="person", target_id="p-1", actor_id="alice")
    log.write("person.viewed", target_kind="person", target_id="p-2", actor_id="bob")
    log.write("staff.created", at=DAY + dt.timedelta(days=3))
    searches = {
        "action=person.": {"p-1", "p-2"},
        "actor_id=bob": {"p-2"},
        "target_kind=person&target_id=p-1": {"p-1"},
        "from=2024-03-10&to=2024-03-10": {"p-1", "p-2"},
        "from=2024-03-11": set(),
    }
    for query, expected in searches.items():
        text = (await log.client.get(f"/console/audit?{query}")).text
        assert {p for p in ("p-1", "p-2") if p in text} == expected, query
    text = (await log.client.get("/console/audit?from=2024-03-11")).text
    assert "staff.created" in text and "person.viewed" not in text


async def test_a_malformed_date_is_named_next_to_its_field(log: Log) -> None:
    response = await log.client.get("/console/audit?from=10/03/2024")
    assert response.status_code == 422
    assert '<small id="audit-from-error" class="field-error">give a date' in response.text
    response = await log.client.get("/console/audit?from=2024-03-10&to=2024-03-01")
    assert response.status_code == 422
    assert 'id="audit-to-error"' in response.text


async def test_the_log_pages_back_with_an_older_link(log: Log) -> None:
    log.write("bulk.entry", count=audit_log.PAGE_SIZE + 5)
    first = await log.client.get("/console/audit?action=bulk.")
    assert first.text.count("<code>bulk.entry</code>") == audit_log.PAGE_SIZE
    seqs = sorted(e.seq for e in log.entries("bulk."))
    oldest_shown = seqs[5]
    link = f'href="/console/audit?action=bulk.&amp;before_seq={oldest_shown}"'
    assert link in first.text
    older = await log.client.get(f"/console/audit?action=bulk.&before_seq={oldest_shown}")
    assert older.text.count("<code>bulk.entry</code>") == 5
    assert "Older entries" not in older.text


async def test_the_csv_export_is_audited_and_holds_the_filtered_entries(log: Log) -> None:
    log.write("person.viewed", count=3, target_kind="person", target_id="p-1")
    log.write("=HYPERLINK(1)")  # a formula must not run in the reader's spreadsheet
    response = await log.client.get("/console/audit.csv?action=person.")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(audit_log.CSV_HEADER)
    assert [row[5] for row in rows[1:]] == ["person.viewed"] * 3
    assert [int(row[0]) for row in rows[1:]] == sorted((int(r[0]) for r in rows[1:]), reverse=True)

    [entry] = log.entries("audit.exported")
    assert entry.actor_kind == "staff" and entry.actor_id == log.me.user_id
    assert entry.details == {"format": "csv", "filters": {"action": "person."}}

    everything = await log.client.get("/console/audit.csv")
    assert "'=HYPERLINK(1)" in everything.text
    assert len(log.entries("audit.exported")) == 2


async def test_the_csv_export_streams_in_batches(
    log: Log, app_state: WebState, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.write("bulk.entry", count=7)
    monkeypatch.setattr(audit_log, "EXPORT_BATCH", 3)
    chunks = list(audit_log.csv_lines(state=app_state, query=AuditQuery(), before_seq=None))
    assert len(chunks) == 1 + 3  # the header, then batches of 3, 3 and 1
    assert sum(chunk.count("bulk.entry") for chunk in chunks) == 7
    response = await log.client.get("/console/audit.csv?action=bulk.")
    assert response.text.count("bulk.entry") == 7


@pytest.fixture
def app_state(log: Log) -> WebState:
    transport = log.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    state = transport.app.state.opendpo  # type: ignore[attr-defined]
    assert isinstance(state, WebState)
    return state


async def test_the_api_searches_the_same_way(log: Log) -> None:
    log.write("person.viewed", count=3, target_kind="person", target_id="p-1")
    response = await log.client.get("/api/v1/audit?action=person.&limit=2")
    assert response.status_code == 200
    page = response.json()
    assert [item["action"] for item in page["items"]] == ["person.viewed"] * 2
    assert page["items"][0]["seq"] > page["items"][1]["seq"]
    assert page["next_before_seq"] == page["items"][1]["seq"]
    rest = (
        await log.client.get(f"/api/v1/audit?action=person.&before_seq={page['next_before_seq']}")
    ).json()
    assert len(rest["items"]) == 1 and rest["next_before_seq"] is None

    bad = await log.client.get("/api/v1/audit?from=yesterday")
    assert bad.status_code == 422
    assert bad.json()["error"]["errors"] == [
        {"field": "from", "message": "give a date as YYYY-MM-DD"}
    ]


async def test_every_records_download_is_audited(client: httpx.AsyncClient, engine: Engine) -> None:
    for fmt in ("csv", "json", "xlsx"):
        assert (await client.get(f"/console/ropa.{fmt}")).status_code == 200
    with make_session_factory(engine)() as session:
        found = audit.search(session=session, query=AuditQuery(action="ropa.exported"))
        assert sorted(entry.details["format"] for entry in found) == ["csv", "json", "xlsx"]
        assert {entry.actor_kind for entry in found} == {"staff"}
        assert {entry.target_id for entry in found} == {"1"}
