"""OpenDSR callback delivery on SQLite and PostgreSQL: signed, retried, each exactly once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import opendsr, workflow
from opendpo.rights.callbacks import MAX_ATTEMPTS, deliver_due, retry_delay
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request, StatusCallback
from opendpo.rights.signing import SIGNATURE_HEADER, signer_for, verify
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring
from opendpo.store.engine import make_session_factory

NOW = dt.datetime(2026, 9, 3, 9, 0, tzinfo=dt.UTC)
CONTROLLER = Actor(ActorKind.API_KEY, "key-1")
STAFF = Actor(ActorKind.STAFF, "staff-1")
URL = "https://controller.example/opendsr/callbacks"


class Recorder:
    """A controller's endpoint as an httpx transport: answers `statuses` in turn, then 204."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else 204
        return httpx.Response(status)

    def accepted(self) -> list[dict[str, object]]:
        return [json.loads(r.content) for r in self.requests]


def opendsr_request(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    urls: list[str],
) -> Request:
    submission = opendsr.parse(
        subject_request_id=str(uuid.uuid4()),
        subject_request_type="access",
        submitted_time="2026-09-03T08:00:00Z",
        subject_identities=[("email", "jo@example.com", "raw")],
        regulation="gdpr",
        status_callback_urls=urls,
        now=NOW,
    )
    request, _ = opendsr.create(
        session=session,
        keyring=keyring,
        policy=policy,
        submission=submission,
        actor=CONTROLLER,
        controller_name="controller tooling",
        context=letters,
        now=NOW,
    )
    return request


def test_a_callback_is_signed_and_says_what_the_spec_asks(
    engine: Engine,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
) -> None:
    request = opendsr_request(session, keyring, policy, letters, [URL, URL + "/second"])
    session.commit()
    signer = signer_for(keyring, "https://dpo.example.com")
    recorder = Recorder()
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
        outcome = deliver_due(
            session_factory=make_session_factory(engine), http=http, signer=signer, now=NOW
        )
    assert outcome.delivered == 2
    assert [str(r.url) for r in recorder.requests] == [URL, URL + "/second"]
    first = recorder.requests[0]
    assert verify(signer.certificate_pem, first.content, first.headers[SIGNATURE_HEADER])
    assert first.headers["x-opendsr-processor-domain"] == "dpo.example.com"
    assert recorder.accepted()[0] == {
        "controller_id": "key-1",
        # Thursday 3 September 2026: due Monday 5 October (3 October is a Saturday),
        # end of the day in London (BST) in UTC.
        "expected_completion_time": "2026-10-05T22:59:59Z",
        "status_callback_url": URL,
        "subject_request_id": request.opendsr_id,
        "request_status": "pending",
    }


def test_a_failing_receiver_gets_the_callback_once_after_retries(
    engine: Engine,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
) -> None:
    opendsr_request(session, keyring, policy, letters, [URL])
    session.commit()
    factory = make_session_factory(engine)
    signer = signer_for(keyring, "https://dpo.example.com")
    recorder = Recorder(500, 503)
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:

        def deliver(at: dt.datetime) -> tuple[int, int]:
            outcome = deliver_due(session_factory=factory, http=http, signer=signer, now=at)
            return outcome.delivered, outcome.failed

        assert deliver(NOW) == (0, 1)
        row = session.scalars(select(StatusCallback)).one()
        session.refresh(row)
        assert (row.attempts, row.last_error, row.delivered_at) == (1, "HTTP 500", None)
        # Not due again until the backoff has passed.
        assert deliver(NOW + dt.timedelta(seconds=29)) == (0, 0)
        assert deliver(NOW + dt.timedelta(seconds=30)) == (0, 1)
        session.refresh(row)
        assert (row.attempts, row.last_error) == (2, "HTTP 503")
        assert deliver(NOW + dt.timedelta(seconds=89)) == (0, 0)
        assert deliver(NOW + dt.timedelta(seconds=90)) == (1, 0)
        assert deliver(NOW + dt.timedelta(days=3)) == (0, 0)
    session.refresh(row)
    assert row.attempts == 3
    assert row.delivered_at is not None and row.last_error is None
    assert len(recorder.requests) == 3


def test_an_unreachable_receiver_is_an_error_recorded_and_retried(
    engine: Engine,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
) -> None:
    opendsr_request(session, keyring, policy, letters, [URL])
    session.commit()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as http:
        outcome = deliver_due(
            session_factory=make_session_factory(engine),
            http=http,
            signer=signer_for(keyring, "https://dpo.example.com"),
            now=NOW,
        )
    assert outcome.failed == 1
    row = session.scalars(select(StatusCallback)).one()
    assert row.last_error == "ConnectError: connection refused"


def test_every_status_change_owes_a_callback(
    engine: Engine,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
) -> None:
    request = opendsr_request(session, keyring, policy, letters, [URL])
    workflow.begin(session=session, request=request, actor=STAFF, now=NOW)
    workflow.await_action(
        session=session, request=request, actor=STAFF, waiting_for="supplier", now=NOW
    )
    workflow.refuse(
        session=session,
        request=request,
        actor=STAFF,
        reason="manifestly_excessive",
        explanation="The fourth identical request this month.",
        context=letters,
        now=NOW,
    )
    session.commit()
    recorder = Recorder()
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
        deliver_due(
            session_factory=make_session_factory(engine),
            http=http,
            signer=signer_for(keyring, "https://dpo.example.com"),
            now=NOW,
        )
    # A refusal is not "completed": the controller is told the request will not be done.
    assert [body["request_status"] for body in recorder.accepted()] == [
        "pending",
        "in_progress",
        "in_progress",
        "cancelled",
    ]


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(MAX_ATTEMPTS) == dt.timedelta(hours=6)


@pytest.mark.postgres
def test_two_deliverers_at_once_deliver_each_callback_once(
    engine: Engine,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent claiming is checked on PostgreSQL")
    for _ in range(20):
        opendsr_request(session, keyring, policy, letters, [URL])
    session.commit()
    factory = make_session_factory(engine)
    signer = signer_for(keyring, "https://dpo.example.com")
    recorder = Recorder()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliverer() -> None:
        try:
            with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
                start.wait()
                deliver_due(session_factory=factory, http=http, signer=signer, now=NOW)
        except BaseException as exc:  # surfaced in the test's thread below
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [body["subject_request_id"] for body in recorder.accepted()]
    assert len(ids) == 20 and len(set(ids)) == 20
    rows = session.scalars(select(StatusCallback)).all()
    assert all(row.delivered_at is not None and row.attempts == 1 for row in rows)
