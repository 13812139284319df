"""Art 20(2): a portability request naming another controller's endpoint sends it exactly the
package's portable data (data.json) over TLS, retrying a receiver that answers 503, with
the receipt on the timeline and in the letter; a destination that cannot be used fails the
step with a message for staff, and the person still gets their download."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from five_systems import ALICE, seed_newsletter, write_policy
from package_servers import Answer, Endpoint, certificate, serving
from running import STAFF, apply, package
from sqlalchemy import select, update

from opendpo.execution import driving
from opendpo.execution import engine as execution
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import MAX_ATTEMPTS
from opendpo.execution.transmit import receiver_reference
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request, RequestEvent

Poll = Callable[[float], None]


@pytest.fixture
def newsletter(runtime: Runtime, tmp_path: Path) -> None:
    url = seed_newsletter(tmp_path / "newsletter.db")
    apply(
        runtime,
        write_policy(tmp_path, only=("newsletter",)),
        {"newsletter": {"type": "sql", "url": url}},
    )


def portability(
    runtime: Runtime,
    *,
    details: dict[str, str] | None = None,
    inputs: dict[str, Any] | None = None,
    poll: Poll | None = None,
) -> tuple[Request, list[RequestStep]]:
    with runtime.session_factory() as session:
        policy = runtime.policy(session)
        request, _ = submit_request(
            session=session,
            keyring=runtime.keyring,
            policy=policy,
            kind="portability",
            identities=[("email", ALICE)],
            details=details or {},
            channel="api",
            actor=STAFF,
            context=LetterContext(policy, runtime.links, runtime.settings.base_url),
            verified_evidence="checked by the test",
        )
        execution.start(
            session=session, runtime=runtime, request=request, actor=STAFF, inputs=inputs
        )
        session.commit()
        request_id = request.id
    steps = driving.drive(runtime, request_id, poll=poll)
    with runtime.session_factory() as session:
        return session.get_one(Request, request_id), steps


def letter_to_person(runtime: Runtime) -> str:
    [sent] = [
        message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in runtime.settings.outbox_path.glob("*.eml")
    ]
    assert sent["To"] == ALICE
    text: str = sent.get_content()
    return text


def portable_json(runtime: Runtime, request_id: str) -> bytes:
    with package(runtime, request_id) as archive:
        return archive.read("data.json")


def test_the_portable_data_reaches_the_endpoint_after_a_503(
    runtime: Runtime, newsletter: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_tls, _ = certificate(tmp_path)
    # The receiver's certificate is trusted the way an installation trusts a private CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "endpoint.pem"))
    answers = (Answer(503), Answer(201, {"location": "/v1/imports/imp-42"}))
    with serving(Endpoint(*answers), tls=server_tls) as endpoint:
        request, steps = portability(runtime, details={"destination": endpoint.url})
    assert request.status == "completed"
    assert [(s.phase, s.status, s.attempts) for s in steps] == [
        ("find", "done", 1),
        ("package", "done", 1),
        ("transmit", "done", 2),
    ]
    # Both attempts carried exactly the package's portable rows, as one repeatable request.
    expected = portable_json(runtime, request.id)
    assert [r.body for r in endpoint.received] == [expected, expected]
    assert b"Alice" in expected and b"Bob" not in expected
    keys = {r.headers["idempotency-key"] for r in endpoint.received}
    assert keys == {f"{request.id}-transmit"}
    assert endpoint.received[0].headers["content-type"] == "application/json"

    sent = steps[2].summary
    assert (sent["status"], sent["bytes"], sent["reference"]) == (
        201,
        len(expected),
        "/v1/imports/imp-42",
    )
    with runtime.session_factory() as session:
        events = list(
            session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == request.id)
                .order_by(RequestEvent.id)
            )
        )
    kinds = [e.kind for e in events]
    retried = str(events[kinds.index("step_retry")].message)
    assert kinds.count("step_retry") == 1 and "HTTP 503" in retried
    receipt = str(events[kinds.index("step_done", kinds.index("step_retry"))].message)
    assert f"HTTP 201, {len(expected)} bytes" in receipt and "imp-42" in receipt
    letter = letter_to_person(runtime)
    assert "/privacy/downloads/" in letter
    assert "sent the data in data.json straight to 127.0.0.1" in letter and "imp-42" in letter


def test_a_plain_http_destination_is_refused_and_the_person_still_gets_the_download(
    runtime: Runtime, newsletter: None
) -> None:
    with serving(Endpoint()) as endpoint:
        request, steps = portability(runtime, inputs={"destination": endpoint.url})
    assert endpoint.received == []
    assert [(s.phase, s.status) for s in steps] == [
        ("find", "done"),
        ("package", "done"),
        ("transmit", "failed"),
    ]
    assert steps[2].attempts == 1  # nothing to retry: the address itself is wrong
    assert "must be an https:// address" in steps[2].summary["error"]
    assert steps[2].error == steps[2].summary["error"]
    assert request.status == "completed"
    letter = letter_to_person(runtime)
    assert "/privacy/downloads/" in letter and "that was not possible" in letter
    with package(runtime, request.id) as archive:
        assert isinstance(archive, zipfile.ZipFile) and "data.json" in archive.namelist()


def test_an_unreachable_destination_is_retried_then_fails_for_staff(
    runtime: Runtime, newsletter: None, tmp_path: Path
) -> None:
    server_tls, _ = certificate(tmp_path)
    with serving(Endpoint(), tls=server_tls) as endpoint:
        closed = endpoint.url  # nothing listens there once the server is gone
    waits: list[float] = []

    def skip_ahead(seconds: float) -> None:
        # The backoff (5 s, 10 s … minutes) passes at once: the waits are kept to check.
        waits.append(seconds)
        with runtime.session_factory() as session:
            session.execute(
                update(RequestStep)
                .where(RequestStep.status == "pending", RequestStep.next_attempt_at.is_not(None))
                .values(next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
            session.commit()

    request, steps = portability(runtime, details={"destination": closed}, poll=skip_ahead)
    transmit = steps[-1]
    assert (transmit.phase, transmit.status, transmit.attempts) == (
        "transmit",
        "failed",
        MAX_ATTEMPTS,
    )
    assert len(waits) == MAX_ATTEMPTS - 1
    assert "could not be reached" in transmit.summary["error"]
    assert f"tried {MAX_ATTEMPTS} times" in transmit.summary["error"]
    assert request.status == "completed"
    assert "that was not possible" in letter_to_person(runtime)


@pytest.mark.parametrize(
    ("response", "reference"),
    [
        (httpx.Response(201, json={"reference": "IMP-7", "id": 3}), "IMP-7"),
        (httpx.Response(201, json={"id": 3}), "3"),
        (httpx.Response(202, headers={"location": "/imports/9"}), "/imports/9"),
        (httpx.Response(201, json={"id": True}, headers={"location": "/i/1"}), "/i/1"),
        (httpx.Response(200, text="thanks"), None),
    ],
)
def test_the_receivers_reference_is_read_from_its_answer(
    response: httpx.Response, reference: str | None
) -> None:
    assert receiver_reference(response) == reference
