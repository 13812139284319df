"""OpenDSR over HTTP: discovery, create, status, cancel, the spec's 400 body, signed responses,
and status callbacks to a receiver on this machine, checked against the published certificate."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import calendar, workflow
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request, StatusCallback
from opendpo.rights.signing import DOMAIN_HEADER, SIGNATURE_HEADER, verify
from opendpo.security.api_keys import create_key
from opendpo.security.audit import Actor, ActorKind, as_utc
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.background import deliver_callbacks
from opendpo.web.docs import OPENAPI_URL
from opendpo.web.state import WebState

pytestmark = pytest.mark.anyio

STAFF = Actor(ActorKind.STAFF, "staff-1")
REQUESTS = "/opendsr/v1/opendsr_requests"


@dataclass
class Receiver:
    """A controller's callback endpoint: records every POST; fails the first `failures`."""

    url: str = ""
    failures: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                failing = state.failures > 0
                if failing:
                    state.failures -= 1
                else:
                    state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/opendsr/callbacks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The receiver listens on plain http on this machine; the tests deliver by hand.
    return settings.model_copy(
        update={"opendsr_allow_http_callbacks": True, "background_jobs": False}
    )


def key_headers(engine: Engine, *scopes: str, name: str = "controller tooling") -> dict[str, str]:
    with make_session_factory(engine)() as session, session.begin():
        _, token = create_key(session=session, name=name, scopes=scopes, created_by="tests")
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def controller(engine: Engine, applied: PolicyDocument) -> dict[str, str]:
    return key_headers(engine, "requests:read", "requests:write")


@pytest.fixture
async def api(anonymous_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return anonymous_client


def new_request(receiver: Receiver | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_request_id": str(uuid.uuid4()),
        "subject_request_type": "access",
        "submitted_time": "2026-03-02T09:30:00Z",
        "subject_identities": [
            {"identity_type": "email", "identity_value": "jo@example.com", "identity_format": "raw"}
        ],
        "regulation": "gdpr",
        "api_version": "1.0",
        "status_callback_urls": [receiver.url] if receiver else [],
        "extensions": {"processor.example": {"property_id": "123"}},
    }
    body.update(changes)
    return body


async def certificate(api: httpx.AsyncClient) -> bytes:
    discovered = (await api.get("/opendsr/v1/discovery")).json()
    path = httpx.URL(discovered["processor_certificate"]).path
    return (await api.get(path)).content


def assert_signed(response: httpx.Response, pem: bytes) -> None:
    assert response.headers[DOMAIN_HEADER] == "127.0.0.1"
    assert verify(pem, response.content, response.headers[SIGNATURE_HEADER])
    assert not verify(pem, response.content + b" ", response.headers[SIGNATURE_HEADER])


def assert_spec_error(
    response: httpx.Response, status: int, location: str | None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "errors"}
    assert error["code"] == status
    (detail,) = error["errors"]
    assert {"domain", "reason", "message"} <= set(detail)
    if location is not None:
        assert detail["location"] == location
        assert location in detail["message"]
    return dict(detail)


async def test_discovery_names_what_is_supported_and_the_certificate(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/opendsr/v1/discovery")
    assert response.status_code == 200
    body = response.json()
    assert body["api_version"] == "1.0"
    assert body["supported_identities"] == [
        {"identity_type": "email", "identity_format": "raw"},
        {"identity_type": "phone", "identity_format": "raw"},
    ]
    # The minimal notice offers only the right of access.
    assert body["supported_subject_request_types"] == ["access"]
    assert body["processor_certificate"] == (
        "http://127.0.0.1:8000/opendsr/v1/processor_certificate.pem"
    )
    pem = await certificate(api)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert_signed(response, pem)
    # Every process derives the same key: a second fetch is the same certificate.
    assert await certificate(api) == pem


async def test_create_status_and_the_callbacks_of_a_request_worked_to_completion(
    api: httpx.AsyncClient,
    controller: dict[str, str],
    receiver: Receiver,
    engine: Engine,
    applied: PolicyDocument,
    app: FastAPI,
) -> None:
    pem = await certificate(api)
    sent = new_request(receiver)
    raw = json.dumps(sent).encode()
    response = await api.post(
        REQUESTS, content=raw, headers={**controller, "content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert_signed(response, pem)
    created = response.json()
    assert created["subject_request_id"] == sent["subject_request_id"]
    assert base64.b64decode(created["encoded_request"]) == raw
    assert created["controller_id"]
    with make_session_factory(engine)() as session:
        stored = session.scalars(select(Request)).one()
        # Verified by the controller: the clock started on receipt here, and the expected
        # completion is the end of the due date in London, in UTC.
        assert stored.status == "verified"
        assert (
            stored.due_on
            == calendar.due(kind="access", starts=calendar.local_date(dt.datetime.now(dt.UTC))).due
        )
        assert as_utc(stored.received_at) == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    due = dt.datetime.combine(stored.due_on, dt.time(23, 59, 59), tzinfo=calendar.LONDON)
    expected = due.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert created["expected_completion_time"] == expected
    # Delivered straight after the request was committed: the request is pending.
    (callback,) = receiver.bodies()
    assert callback == {
        "controller_id": created["controller_id"],
        "expected_completion_time": expected,
        "status_callback_url": receiver.url,
        "subject_request_id": sent["subject_request_id"],
        "request_status": "pending",
    }
    headers, body = receiver.received[0]
    assert verify(pem, body, headers[SIGNATURE_HEADER.lower()])

    status = await api.get(f"{REQUESTS}/{sent['subject_request_id']}", headers=controller)
    assert status.status_code == 200
    assert_signed(status, pem)
    assert status.json()["request_status"] == "pending"
    assert "results_url" not in status.json()

    # Staff work it: each change is a callback, and the status follows.
    state = web_state_of(app)
    factory = make_session_factory(engine)
    letters = LetterContext(applied, LinkSigner("s" * 40), "https://privacy.example.com")
    for step, expected in (("begin", "in_progress"), ("complete", "completed")):
        with factory() as session, session.begin():
            request = session.scalars(
                select(Request).where(Request.opendsr_id == sent["subject_request_id"])
            ).one()
            if step == "begin":
                workflow.begin(session=session, request=request, actor=STAFF)
            else:
                workflow.complete(
                    session=session, request=request, actor=STAFF, response="Done.", context=letters
                )
        outcome = deliver_callbacks(state)
        assert outcome.delivered == 1
        assert receiver.bodies()[-1]["request_status"] == expected
        status = await api.get(f"{REQUESTS}/{sent['subject_request_id']}", headers=controller)
        assert status.json()["request_status"] == expected
    assert [b["request_status"] for b in receiver.bodies()] == [
        "pending",
        "in_progress",
        "completed",
    ]
    for headers, body in receiver.received:
        assert verify(pem, body, headers[SIGNATURE_HEADER.lower()])

    # Completed is not pending: the spec's error, and nothing changes.
    refused = await api.delete(f"{REQUESTS}/{sent['subject_request_id']}", headers=controller)
    detail = assert_spec_error(refused, 400, "subject_request_id")
    assert detail["reason"] == "not_pending"
    assert_signed(refused, pem)
    assert deliver_callbacks(state).delivered == 0


def web_state_of(app: FastAPI) -> WebState:
    state = app.state.opendpo
    assert isinstance(state, WebState)
    return state


async def test_a_pending_request_is_cancelled_and_the_controller_told(
    api: httpx.AsyncClient, controller: dict[str, str], receiver: Receiver, engine: Engine
) -> None:
    pem = await certificate(api)
    sent = new_request(receiver)
    assert (await api.post(REQUESTS, json=sent, headers=controller)).status_code == 201
    response = await api.delete(f"{REQUESTS}/{sent['subject_request_id']}", headers=controller)
    assert response.status_code == 202, response.text
    assert_signed(response, pem)
    body = response.json()
    assert body["subject_request_id"] == sent["subject_request_id"]
    assert body["api_version"] == "1.0"
    assert set(body) == {"controller_id", "subject_request_id", "received_time", "api_version"}
    assert [b["request_status"] for b in receiver.bodies()] == ["pending", "cancelled"]
    status = await api.get(f"{REQUESTS}/{sent['subject_request_id']}", headers=controller)
    assert status.json()["request_status"] == "cancelled"
    again = await api.delete(f"{REQUESTS}/{sent['subject_request_id']}", headers=controller)
    assert assert_spec_error(again, 400, "subject_request_id")["reason"] == "not_pending"
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(StatusCallback)).all()
        assert [(row.status, row.delivered_at is not None) for row in rows] == [
            ("verified", True),
            ("cancelled", True),
        ]


def identity(**changes: str) -> list[dict[str, str]]:
    return [
        {"identity_type": "email", "identity_value": "jo@example.com", "identity_format": "raw"}
        | changes
    ]


BAD_REQUESTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing field", {"subject_request_id": None}, "subject_request_id", "missing"),
    ("wrong type", {"subject_request_type": 7}, "subject_request_type", "string_type"),
    (
        "upper-case uuid",
        {"subject_request_id": str(uuid.uuid4()).upper()},
        "subject_request_id",
        "invalid_uuid",
    ),
    (
        "uuid version 1",
        {"subject_request_id": str(uuid.uuid1())},
        "subject_request_id",
        "invalid_uuid",
    ),
    (
        "time without zone",
        {"submitted_time": "2026-03-02T09:30:00"},
        "submitted_time",
        "invalid_time",
    ),
    (
        "impossible date",
        {"submitted_time": "2026-02-30T09:30:00Z"},
        "submitted_time",
        "invalid_time",
    ),
    ("time to come", {"submitted_time": "2099-01-01T00:00:00Z"}, "submitted_time", "invalid_time"),
    (
        "unknown type",
        {"subject_request_type": "rectification"},
        "subject_request_type",
        "unsupported_request_type",
    ),
    (
        "not offered here",
        {"subject_request_type": "erasure"},
        "subject_request_type",
        "invalid_value",
    ),
    ("unknown regulation", {"regulation": "lgpd"}, "regulation", "unsupported_regulation"),
    ("no identities", {"subject_identities": []}, "subject_identities", "missing_identity"),
    (
        "hashed identity",
        {"subject_identities": identity(identity_format="sha256")},
        "subject_identities[0].identity_format",
        "unsupported_identity_format",
    ),
    (
        "unknown identity type",
        {"subject_identities": identity(identity_type="android_id")},
        "subject_identities[0].identity_type",
        "unsupported_identity_type",
    ),
    (
        "malformed email",
        {"subject_identities": identity(identity_value="not an address")},
        "subject_identities[0].identity_value",
        "invalid_value",
    ),
    (
        "identity value missing",
        {"subject_identities": [{"identity_type": "email", "identity_format": "raw"}]},
        "subject_identities[0].identity_value",
        "missing",
    ),
    (
        "plain http callback",
        {"status_callback_urls": ["http://controller.example/cb"]},
        "status_callback_urls[0]",
        "invalid_url",
    ),
    (
        "callback with credentials",
        {"status_callback_urls": ["https://u:p@controller.example/cb"]},
        "status_callback_urls[0]",
        "invalid_url",
    ),
]


@pytest.mark.parametrize(
    ("changes", "location", "reason"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_input_gets_the_spec_error_body_naming_the_field(
    api: httpx.AsyncClient,
    controller: dict[str, str],
    engine: Engine,
    changes: dict[str, Any],
    location: str,
    reason: str,
) -> None:
    body = {k: v for k, v in new_request(**changes).items() if v is not None}
    response = await api.post(REQUESTS, json=body, headers=controller)
    detail = assert_spec_error(response, 400, location)
    assert detail["reason"] == reason
    assert detail["domain"] == "Validation"
    assert_signed(response, await certificate(api))
    with make_session_factory(engine)() as session:
        assert session.scalars(select(Request)).all() == []


@pytest.mark.parametrize(
    ("content", "location"),
    [(b'{"subject_request_id": ', "body"), (b"[]", "body"), (b"", "body")],
    ids=["malformed JSON", "not an object", "empty body"],
)
async def test_a_body_that_is_not_a_request_gets_the_spec_error_body(
    api: httpx.AsyncClient, controller: dict[str, str], content: bytes, location: str
) -> None:
    response = await api.post(
        REQUESTS, content=content, headers={**controller, "content-type": "application/json"}
    )
    assert_spec_error(response, 400, location)


async def test_a_repeated_id_is_refused_and_the_first_request_kept(
    api: httpx.AsyncClient, controller: dict[str, str]
) -> None:
    sent = new_request()
    assert (await api.post(REQUESTS, json=sent, headers=controller)).status_code == 201
    again = await api.post(REQUESTS, json=sent, headers=controller)
    detail = assert_spec_error(again, 400, "subject_request_id")
    assert detail["reason"] == "duplicate_subject_request_id"
    status = await api.get(f"{REQUESTS}/{sent['subject_request_id']}", headers=controller)
    assert status.json()["request_status"] == "pending"


async def test_keys_and_controllers_are_kept_apart(
    api: httpx.AsyncClient, controller: dict[str, str], engine: Engine
) -> None:
    sent = new_request()
    assert (await api.post(REQUESTS, json=sent, headers=controller)).status_code == 201
    path = f"{REQUESTS}/{sent['subject_request_id']}"

    nobody = await api.get(path)
    assert assert_spec_error(nobody, 401, None)["reason"] == "not_authenticated"
    reader = key_headers(engine, "requests:read", name="reader")
    denied = await api.post(REQUESTS, json=new_request(), headers=reader)
    assert assert_spec_error(denied, 403, None)["reason"] == "permission_denied"
    # Another controller's request is as good as absent to it.
    other = await api.get(path, headers=reader)
    assert assert_spec_error(other, 404, None)["reason"] == "not_found"
    unknown = await api.get(f"{REQUESTS}/{uuid.uuid4()}", headers=controller)
    assert_spec_error(unknown, 404, None)


async def test_the_openapi_description_shows_the_opendsr_routes(
    client: httpx.AsyncClient,
) -> None:
    described = (await client.get(OPENAPI_URL)).json()
    paths = described["paths"]
    assert "post" in paths[REQUESTS]
    assert {"get", "delete"} <= set(paths[REQUESTS + "/{subject_request_id}"])
    assert "/opendsr/v1/discovery" in paths
    body = paths[REQUESTS]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/OpenDsrRequestIn")
