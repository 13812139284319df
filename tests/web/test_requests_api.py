"""The requests API: log a request (codes or vouched), list without personal data, read one
(audited), work it through the actions to completion, and name the field of every bad value."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opendpo.mail.sender import outbox_messages
from opendpo.security import audit
from opendpo.security.api_keys import create_key
from opendpo.security.audit import AuditQuery
from opendpo.security.roles import Permission, Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio

BODY: dict[str, Any] = {
    "kind": "access",
    "identities": [{"kind": "email", "value": "Ann@Example.com"}],
    "details": {"description": "everything about my account"},
}
VOUCHED = {**BODY, "verified_evidence": "signed in to the customer portal"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"outbox_path": tmp_path / "outbox"})


def mail(settings: Settings) -> list[Message]:
    return [message_from_bytes(p.read_bytes()) for p in outbox_messages(settings.outbox_path)]


def key_headers(engine: Engine, *scopes: Permission) -> dict[str, str]:
    with make_session_factory(engine)() as session, session.begin():
        _, token = create_key(session=session, name="portal", scopes=list(scopes), created_by="t")
        return {"authorization": f"Bearer {token}"}


async def test_a_request_from_a_system_sends_a_code_and_lists_without_personal_data(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post("/api/v1/requests", json=BODY)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["reference"].startswith("R-")
    assert (created["status"], created["channel"]) == ("awaiting_verification", "api")
    assert created["due_on"] is None
    assert created["identities"] == [
        {"id": created["identities"][0]["id"], "kind": "email", "verified": False}
    ]
    [code_mail] = mail(settings)
    assert code_mail["To"] == "ann@example.com"

    listed = await client.get("/api/v1/requests", params={"status": "open"})
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    assert "ann@example.com" not in listed.text and "everything" not in listed.text


async def test_a_vouched_request_is_verified_at_once_and_worked_to_completion(
    client: httpx.AsyncClient, settings: Settings, session: Session
) -> None:
    created = (await client.post("/api/v1/requests", json=VOUCHED)).json()
    assert created["status"] == "verified"
    assert created["due_on"] is not None and created["working_days_left"] >= 19
    request_id = created["id"]
    [acknowledgement] = mail(settings)
    assert created["reference"] in str(acknowledgement["Subject"]) + acknowledgement.as_string()

    one = await client.get(f"/api/v1/requests/{created['reference']}")
    assert one.status_code == 200
    assert one.json()["identities"][0]["value"] == "ann@example.com"
    assert one.json()["details"] == {"description": "everything about my account"}
    viewed = audit.search(session=session, query=AuditQuery(action="request.viewed"))
    assert [entry.target_id for entry in viewed] == [request_id]

    actions = f"/api/v1/requests/{request_id}/actions"
    assert (await client.post(f"{actions}/begin")).json()["status"] == "in_progress"
    note = await client.post(f"{actions}/note", json={"note": "asked the CRM team"})
    assert note.status_code == 200
    extended = await client.post(f"{actions}/extend", json={"months": 2, "reason": "complex"})
    assert extended.status_code == 200, extended.text
    assert extended.json()["extended_months"] == 2
    assert extended.json()["due_on"] > created["due_on"]
    done = await client.post(f"{actions}/complete", json={"response": "Attached is your data."})
    assert done.json()["status"] == "completed"
    subjects = sorted(str(m["Subject"]) for m in mail(settings))
    assert len(subjects) == 3  # acknowledgement, extension, completion

    timeline = (await client.get(f"/api/v1/requests/{request_id}/events")).json()
    kinds = [event["kind"] for event in timeline]
    assert kinds[0] == "received" and "note" in kinds and "extended" in kinds
    assert timeline[-1]["to_status"] == "completed"
    worked = {
        e.action for e in audit.search(session=session, query=AuditQuery(target_id=request_id))
    }
    assert {"request.created", "request.begun", "request.extended", "request.completed"} <= worked


async def test_a_closed_request_refuses_further_steps(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/requests", json=VOUCHED)).json()
    actions = f"/api/v1/requests/{created['id']}/actions"
    refused = await client.post(
        f"{actions}/refuse", json={"reason": "manifestly_excessive", "explanation": "the fifth"}
    )
    assert refused.json()["status"] == "refused"
    again = await client.post(f"{actions}/begin")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "transition_refused"


async def test_staff_verify_each_identity_on_its_own(client: httpx.AsyncClient) -> None:
    body = {**BODY, "identities": [*BODY["identities"], {"kind": "phone", "value": "07700900123"}]}
    created = (await client.post("/api/v1/requests", json=body)).json()
    first, second = created["identities"]
    actions = f"/api/v1/requests/{created['id']}/actions"
    one = await client.post(
        f"{actions}/verify-identity", json={"identity_id": first["id"], "evidence": "passport"}
    )
    assert one.json()["status"] == "awaiting_verification"
    both = await client.post(
        f"{actions}/verify-identity", json={"identity_id": second["id"], "evidence": "call-back"}
    )
    assert both.json()["status"] == "verified"
    assert [i["verified"] for i in both.json()["identities"]] == [True, True]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "telepathy"}, "kind"),
        ({"kind": "erasure"}, "kind"),  # not offered by the minimal notice
        ({"identities": [{"kind": "email", "value": "not an address"}]}, "identities[0].value"),
        ({"details": {"colour": "blue"}}, "details.colour"),
        ({"channel": "phone"}, "evidence"),
        ({"received_at": "2999-01-01T00:00:00Z"}, "received_at"),
        ({"verified_evidence": "  "}, "verified_evidence"),
    ],
)
async def test_bad_values_are_refused_by_field_with_nothing_written(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/requests", json={**BODY, **change})
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["error"]["errors"]] == [field]
    assert (await client.get("/api/v1/requests")).json()["total"] == 0


async def test_filters_and_paging(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post("/api/v1/requests", json=VOUCHED)
    await client.post("/api/v1/requests", json=BODY)
    verified = await client.get("/api/v1/requests", params={"status": "verified", "limit": 2})
    page = verified.json()
    assert (page["total"], len(page["items"])) == (3, 2)
    rest = await client.get("/api/v1/requests", params={"status": "verified", "offset": 2})
    assert len(rest.json()["items"]) == 1
    assert (await client.get("/api/v1/requests", params={"overdue": True})).json()["total"] == 0
    today = dt.date.today()
    tomorrow = today + dt.timedelta(days=2)
    later = await client.get("/api/v1/requests", params={"received_from": str(tomorrow)})
    assert later.json()["total"] == 0
    window = {"received_from": str(today - dt.timedelta(days=1)), "received_to": str(tomorrow)}
    assert (await client.get("/api/v1/requests", params=window)).json()["total"] == 4
    assert (await client.get("/api/v1/requests", params={"status": "closed"})).json()["total"] == 0
    for params, field in [
        ({"status": "lost"}, "status"),
        ({"kind": "wishes"}, "kind"),
        ({"received_from": str(tomorrow), "received_to": str(today)}, "received_to"),
    ]:
        bad = await client.get("/api/v1/requests", params=params)
        assert bad.status_code == 422
        assert bad.json()["error"]["errors"][0]["field"] == field
    too_many = await client.get("/api/v1/requests", params={"limit": 1000})
    assert too_many.status_code == 422


async def test_assign_needs_someone_who_works_requests(
    client: httpx.AsyncClient, sign_in: Any
) -> None:
    created = (await client.post("/api/v1/requests", json=VOUCHED)).json()
    actions = f"/api/v1/requests/{created['id']}/actions"
    agent = sign_in(Role.AGENT)
    auditor = sign_in(Role.AUDITOR)
    assigned = await client.post(f"{actions}/assign", json={"staff_id": agent.user_id})
    assert assigned.json()["assigned_to"] == agent.user_id
    refused = await client.post(f"{actions}/assign", json={"staff_id": auditor.user_id})
    assert refused.status_code == 422
    assert refused.json()["error"]["errors"][0]["field"] == "staff_id"
    mine = await client.get("/api/v1/requests", params={"assigned_to": agent.user_id})
    assert mine.json()["total"] == 1


async def test_a_write_only_key_logs_requests_but_cannot_read_them(
    anonymous_client: httpx.AsyncClient, engine: Engine
) -> None:
    writer = key_headers(engine, Permission.REQUESTS_WRITE)
    created = await anonymous_client.post("/api/v1/requests", json=VOUCHED, headers=writer)
    assert created.status_code == 201
    assert "ann@example.com" not in created.text
    read = await anonymous_client.get(f"/api/v1/requests/{created.json()['id']}", headers=writer)
    assert read.status_code == 403
    reader = key_headers(engine, Permission.REQUESTS_READ)
    missing = await anonymous_client.get("/api/v1/requests/R-NOTHERE", headers=reader)
    assert missing.status_code == 404
