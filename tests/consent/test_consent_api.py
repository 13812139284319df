"""The consent API: record (201 with the current preference, audited without identities),
refuse malformed values by field with nothing written, read history, issue receipts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from consent_helpers import Applied, counts
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opendpo.consent import ledger
from opendpo.mail.sender import outbox_messages
from opendpo.security import audit
from opendpo.security.api_keys import create_key
from opendpo.security.audit import AuditQuery
from opendpo.security.roles import Permission, Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio

BODY: dict[str, Any] = {
    "identities": [{"kind": "email", "value": "Ann@Example.com"}],
    "purpose": "marketing_email",
    "channel": "email",
    "state": "given",
    "method": "api",
    "source": "signup form on the shop",
}


def key_headers(engine: Engine, *scopes: Permission) -> tuple[str, dict[str, str]]:
    with make_session_factory(engine)() as session, session.begin():
        key, token = create_key(
            session=session, name="shop", scopes=list(scopes), created_by="tests"
        )
        return key.id, {"authorization": f"Bearer {token}"}


async def test_a_system_records_consent(
    api: httpx.AsyncClient, engine: Engine, session: Session, applied: Applied
) -> None:
    key_id, headers = key_headers(engine, Permission.CONSENT_WRITE)
    response = await api.post("/api/v1/consent", json=BODY, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    record = body["record"]
    assert (record["seq"], record["state"], record["method"]) == (1, "given", "api")
    assert record["api_key_id"] == key_id and record["staff_id"] is None
    assert record["policy_version"] == applied.version
    assert body["current"]["state"] == "given"
    assert body["current"]["record_seq"] == 1
    assert body["current"]["needs_renewal"] is False
    stored = ledger.get_record(session=session, record_id=record["id"])
    assert stored is not None and stored.source == "signup form on the shop"
    [entry] = audit.search(session=session, query=AuditQuery(action="consent.recorded"))
    assert entry.actor_kind == "api_key" and entry.target_id == record["id"]
    assert entry.details == {
        "person_id": record["person_id"],
        "purpose": "marketing_email",
        "channel": "email",
        "state": "given",
        "method": "api",
    }
    assert "example.com" not in str(entry.details).lower()
    # A key that may only read people may not record consent.
    _, reader = key_headers(engine, Permission.PEOPLE_READ)
    refused = await api.post("/api/v1/consent", json=BODY, headers=reader)
    assert refused.status_code == 403


async def test_staff_record_a_call_as_themselves(
    api: httpx.AsyncClient,
    session: Session,
    applied: Applied,
    staff_headers: dict[Role, tuple[str, dict[str, str]]],
) -> None:
    agent_id, headers = staff_headers[Role.AGENT]
    body = {**BODY, "method": "phone", "evidence": {"notes": "called 09:10, said yes"}}
    body["at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    response = await api.post("/api/v1/consent", json=body, headers=headers)
    assert response.status_code == 201, response.text
    record = response.json()["record"]
    assert record["staff_id"] == agent_id and record["api_key_id"] is None
    assert record["method"] == "phone"
    stored = ledger.get_record(session=session, record_id=record["id"])
    assert stored is not None and stored.evidence == {"notes": "called 09:10, said yes"}
    # Somebody else's id is not theirs to give.
    other = {**body, "staff_id": staff_headers[Role.DPO][0]}
    refused = await api.post("/api/v1/consent", json=other, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["errors"][0]["field"] == "staff_id"


BAD = [
    ({"identities": [{"kind": "email", "value": "not an address"}]}, "identities.0.value"),
    (
        {
            "identities": [
                {"kind": "email", "value": "a@example.com"},
                {"kind": "phone", "value": "1"},
            ]
        },
        "identities.1.value",
    ),
    ({"identities": [{"kind": "passport", "value": "X"}]}, "identities.0.kind"),
    ({"identities": []}, "identities"),
    ({"purpose": "newsletters"}, "purpose"),
    ({"channel": "fax"}, "channel"),
    ({"channel": "post"}, "channel"),
    ({"state": "maybe"}, "state"),
    ({"method": "carrier_pigeon"}, "method"),
    ({"method": "phone"}, "staff_id"),  # a key must name who took the call
    ({"method": "phone", "staff_id": "nobody"}, "staff_id"),
    ({"at": "2999-01-01T00:00:00Z"}, "at"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
async def test_malformed_values_are_named_and_nothing_is_written(
    api: httpx.AsyncClient,
    engine: Engine,
    session: Session,
    applied: Applied,
    change: dict[str, Any],
    field: str,
) -> None:
    _, headers = key_headers(engine, Permission.CONSENT_WRITE)
    before = counts(session)
    audited = audit.count(session=session)
    response = await api.post("/api/v1/consent", json={**BODY, **change}, headers=headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in [item["field"] for item in error["errors"]], error
    session.expire_all()
    assert counts(session) == before == (0, 0, 0)
    assert audit.count(session=session) == audited


async def test_a_conflict_after_writing_leaves_nothing_behind(
    api: httpx.AsyncClient, engine: Engine, session: Session, applied: Applied
) -> None:
    _, headers = key_headers(engine, Permission.CONSENT_WRITE)
    for address in ("ann@example.com", "bob@example.com"):
        body = {**BODY, "identities": [{"kind": "email", "value": address}]}
        assert (await api.post("/api/v1/consent", json=body, headers=headers)).status_code == 201
    before = counts(session)
    # One body naming two known people: refused when the second identity is attached.
    both = [
        {"kind": "phone", "value": "07700 900123"},
        *({"kind": "email", "value": a} for a in ("ann@example.com", "bob@example.com")),
    ]
    response = await api.post("/api/v1/consent", json={**BODY, "identities": both}, headers=headers)
    assert response.status_code == 409
    session.expire_all()
    assert counts(session) == before == (2, 2, 2)


async def test_history_and_receipts(
    api: httpx.AsyncClient,
    engine: Engine,
    session: Session,
    settings: Settings,
    applied: Applied,
    staff_headers: dict[Role, tuple[str, dict[str, str]]],
) -> None:
    _, writer = key_headers(engine, Permission.CONSENT_WRITE)
    first = (await api.post("/api/v1/consent", json=BODY, headers=writer)).json()
    withdrawn = {**BODY, "state": "withdrawn"}
    second = (await api.post("/api/v1/consent", json=withdrawn, headers=writer)).json()
    person_id = first["record"]["person_id"]
    _, agent = staff_headers[Role.AGENT]

    history = await api.get(f"/api/v1/people/{person_id}/consent", headers=agent)
    assert history.status_code == 200
    body = history.json()
    assert [p["state"] for p in body["preferences"]] == ["withdrawn"]
    assert [r["id"] for r in body["history"]] == [second["record"]["id"], first["record"]["id"]]
    assert body["history"][0]["hash"]
    viewed = audit.search(session=session, query=AuditQuery(action="person.consent_viewed"))
    assert [entry.target_id for entry in viewed] == [person_id]

    record_id = second["record"]["id"]
    receipt = await api.get(f"/api/v1/consent/{record_id}/receipt", headers=agent)
    assert receipt.status_code == 200
    assert receipt.json()["header"]["recordId"] == record_id
    assert receipt.json()["events"][0]["state"] == "dpv:ConsentWithdrawn"
    missing = await api.get("/api/v1/consent/no-such-record/receipt", headers=agent)
    assert missing.status_code == 404

    # Auditors see the log, never the people: no history, no receipt.
    _, auditor = staff_headers[Role.AUDITOR]
    assert (
        await api.get(f"/api/v1/consent/{record_id}/receipt", headers=auditor)
    ).status_code == 403

    sent = await api.post(f"/api/v1/consent/{record_id}/receipt/send", headers=agent)
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"record_id": record_id, "sent": True}
    [message] = outbox_messages(settings.outbox_path)
    text = message.read_text()
    assert "To: ann@example.com" in text and f"consent-receipt-{record_id}.json" in text
    session.expire_all()
    [entry] = audit.search(session=session, query=AuditQuery(action="consent.receipt_sent"))
    assert entry.target_id == record_id
