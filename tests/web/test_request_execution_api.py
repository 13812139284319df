"""Running a request over the API: run (202, the steps), follow the steps, answer a step that
waits on a person; with the server's embedded worker doing the work, and API keys scoped as
the other request endpoints are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from execution_estate import ALICE, BOB, apply_estate, serve, wait_for, working_app
from sqlalchemy import Engine

from opendpo.policy.model.document import PolicyDocument
from opendpo.security import audit
from opendpo.security.api_keys import create_key
from opendpo.security.audit import AuditQuery
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio


@dataclass
class Api:
    client: httpx.AsyncClient
    engine: Engine
    writer: dict[str, str]
    reader: dict[str, str]

    async def log(self, kind: str = "access", *, vouched: bool = True, **extra: Any) -> str:
        body: dict[str, Any] = {"kind": kind, "identities": [{"kind": "email", "value": ALICE}]}
        if vouched:
            body["verified_evidence"] = "Signed in to the customer portal"
        response = await self.client.post(
            "/api/v1/requests", json={**body, **extra}, headers=self.writer
        )
        assert response.status_code == 201, response.text
        request_id: str = response.json()["id"]
        return request_id

    async def steps(self, request_id: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/v1/requests/{request_id}/steps", headers=self.reader
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def bearer(engine: Engine, *scopes: str) -> dict[str, str]:
    with make_session_factory(engine)() as session, session.begin():
        _, token = create_key(
            session=session, name=" ".join(scopes), scopes=list(scopes), created_by="tests"
        )
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def api(
    applied: PolicyDocument, settings: Settings, engine: Engine, tmp_path: Path
) -> AsyncIterator[Api]:
    """A server that works the steps, its CRM connected and a paper archive worked by hand."""
    apply_estate(engine, tmp_path, archive=True)
    writer = bearer(engine, "requests:read", "requests:write")
    reader = bearer(engine, "requests:read")
    async with serve(working_app(settings, tmp_path)) as client:
        yield Api(client, engine, writer, reader)


def shape(body: dict[str, Any]) -> list[tuple[int, str, str | None, str]]:
    return [(s["seq"], s["phase"], s["system"], s["status"]) for s in body["steps"]]


async def test_a_request_is_run_followed_and_answered(api: Api) -> None:
    request_id = await api.log()
    response = await api.client.post(f"/api/v1/requests/{request_id}/run", headers=api.writer)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["request"]["id"] == request_id
    assert body["request"]["status"] == "in_progress"
    assert [(s["seq"], s["phase"]) for s in body["steps"]] == [
        (1, "find"),
        (2, "person"),
        (3, "package"),
    ]
    assert body["steps"][2]["depends_on"] == [1, 2]

    await wait_for(api.engine, request_id, "awaiting_action")
    body = await api.steps(request_id)
    assert shape(body) == [
        (1, "find", "crm", "done"),
        (2, "person", "archive", "waiting"),
        (3, "package", None, "pending"),
    ]
    found, person, _ = body["steps"]
    assert (found["rows_found"], found["rows_changed"], found["attempts"]) == (2, None, 1)
    assert person["waiting_for"] == "staff"
    assert body["files"] == []

    answered = await api.client.post(
        f"/api/v1/requests/{request_id}/steps/2/answer",
        json={"outcome": "done", "note": "Nothing in the archive"},
        headers=api.writer,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["steps"][1]["status"] == "done"
    await wait_for(api.engine, request_id, "completed")
    body = await api.steps(request_id)
    assert [s["status"] for s in body["steps"]] == ["done", "done", "done"]
    [package] = body["files"]
    assert (package["purpose"], package["step"]) == ("access_package", 3)
    assert package["size"] > 0

    with make_session_factory(api.engine)() as session:
        actions = [
            (e.action, e.details.get("part"))
            for e in audit.search(session=session, query=AuditQuery(target_id=request_id))
        ]
    assert ("request.run", None) in actions
    assert ("request.step_answer", None) in actions
    assert ("request.viewed", "steps") in actions


async def test_bad_answers_name_the_field_or_say_why(api: Api) -> None:
    request_id = await api.log()
    run = await api.client.post(f"/api/v1/requests/{request_id}/run", headers=api.writer)
    assert run.status_code == 202
    await wait_for(api.engine, request_id, "awaiting_action")
    path = f"/api/v1/requests/{request_id}/steps"

    unknown = await api.client.post(
        f"{path}/2/answer", json={"outcome": "maybe", "note": "x"}, headers=api.writer
    )
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["error"]["errors"]] == ["outcome"]
    empty = await api.client.post(
        f"{path}/2/answer", json={"outcome": "done", "note": ""}, headers=api.writer
    )
    assert empty.status_code == 422
    assert [e["field"] for e in empty.json()["error"]["errors"]] == ["note"]
    blank = await api.client.post(
        f"{path}/2/answer", json={"outcome": "done", "note": "   "}, headers=api.writer
    )
    assert blank.status_code == 422
    assert blank.json()["error"]["errors"] == [
        {"field": "note", "message": "say what was done (or why it could not be)"}
    ]
    not_waiting = await api.client.post(
        f"{path}/1/answer", json={"outcome": "done", "note": "Done"}, headers=api.writer
    )
    assert not_waiting.status_code == 409
    assert not_waiting.json()["error"]["code"] == "step_not_waiting"
    missing = await api.client.post(
        f"{path}/9/answer", json={"outcome": "done", "note": "Done"}, headers=api.writer
    )
    assert missing.status_code == 404
    assert (await api.steps(request_id))["steps"][1]["status"] == "waiting"


async def test_only_a_verified_request_of_an_executable_kind_runs(api: Api) -> None:
    unverified = await api.log(vouched=False)
    refused = await api.client.post(f"/api/v1/requests/{unverified}/run", headers=api.writer)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "cannot_start"
    complaint = await api.log("complaint", details={"complaint": "Two calls a day"})
    refused = await api.client.post(f"/api/v1/requests/{complaint}/run", headers=api.writer)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_executable"
    assert (await api.steps(complaint))["steps"] == []


async def test_a_failed_step_is_retried_by_running_again(api: Api) -> None:
    request_id = await api.log()
    assert (
        await api.client.post(f"/api/v1/requests/{request_id}/run", headers=api.writer)
    ).status_code == 202
    await wait_for(api.engine, request_id, "awaiting_action")
    failed = await api.client.post(
        f"/api/v1/requests/{request_id}/steps/2/answer",
        json={"outcome": "not_possible", "note": "The archive burnt down"},
        headers=api.writer,
    )
    assert failed.json()["steps"][1]["status"] == "failed"
    again = await api.client.post(
        f"/api/v1/requests/{request_id}/run", json={"retry_failed": True}, headers=api.writer
    )
    assert again.status_code == 202
    assert again.json()["steps"][1]["status"] in ("pending", "running", "waiting")
    await wait_for(api.engine, request_id, "awaiting_action")
    assert (await api.steps(request_id))["steps"][1]["status"] == "waiting"


async def test_keys_without_the_scope_are_refused(api: Api) -> None:
    request_id = await api.log()
    read_only = await api.client.post(f"/api/v1/requests/{request_id}/run", headers=api.reader)
    assert read_only.status_code == 403
    assert read_only.json()["error"]["code"] == "permission_denied"
    people = bearer(api.engine, "people:read")
    steps = await api.client.get(f"/api/v1/requests/{request_id}/steps", headers=people)
    assert steps.status_code == 403
    nobody = await api.client.get(f"/api/v1/requests/{request_id}/steps")
    assert nobody.status_code == 401
    assert (await api.steps(request_id))["steps"] == []


async def test_an_erasure_is_previewed_changing_nothing_then_runs_as_listed(api: Api) -> None:
    request_id = await api.log("erasure")
    url = f"/api/v1/requests/{request_id}/dry-run"
    assert (await api.client.post(url, headers=api.reader)).status_code == 403
    response = await api.client.post(url, headers=api.writer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert (document["request_id"], document["dry_run"]) == (request_id, True)
    assert document["totals"] == {"update": 2, "delete": 0, "keep": 0}
    assert document["by_person"] == ["Paper archive"]
    listed = document["systems"]["crm"]["collections"]
    contact = listed["crm_db.contacts"]["rows"]
    assert contact == [
        {"key": {"id": 1}, "action": "update", "fields": [
            {"field": "email", "strategy": "null", "category": "user.contact.email",
             "old": "a****@e******.c**", "new": "null"},
            {"field": "name", "strategy": "null", "category": "user.name",
             "old": "A**** A*****", "new": "null"},
        ]},
    ]  # fmt: skip
    # Notes have no primary key: a row is named by all its fields, the personal ones masked.
    [note] = listed["crm_db.notes"]["rows"]
    assert note["key"] == {"body": "P****** e****", "contact_id": 1}
    assert "Prefers email" not in response.text and "Alice Archer" not in response.text
    assert BOB not in response.text

    # Nothing was planned or changed; the preview is on the timeline and in the audit log.
    assert (await api.steps(request_id))["steps"] == []
    with make_session_factory(api.engine)() as session:
        logged = audit.search(session=session, query=AuditQuery(action="request.dry_run"))
        assert [entry.target_id for entry in logged] == [request_id]
    refused = await api.client.post(
        f"/api/v1/requests/{await api.log()}/dry-run", headers=api.writer
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["error"]["errors"]] == ["kind"]

    # Then the request runs, and makes the changes listed.
    ran = await api.client.post(f"/api/v1/requests/{request_id}/run", headers=api.writer)
    assert ran.status_code == 202
    await wait_for(api.engine, request_id, "awaiting_action")  # the archive waits on staff
    done = {s["seq"]: s for s in (await api.steps(request_id))["steps"]}
    erased = [s for s in done.values() if s["phase"] == "erase"]
    assert [s["status"] for s in erased] == ["done"]
