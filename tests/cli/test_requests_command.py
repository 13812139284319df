"""`opendpo requests`: the queue table, show (audited), and each step from the command line,
with letters written to the outbox and clear messages for what cannot be done."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.orm import Session

from opendpo.mail.sender import outbox_messages
from opendpo.policy.loader import load_policy
from opendpo.policy.versions import apply_policy, current_version
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request
from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind, AuditQuery
from opendpo.security.keyring import Keyring
from opendpo.security.links import LinkSigner

Run = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
WIDE = {"COLUMNS": "200"}


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def cli(run: Run, outbox: Path) -> Run:
    def invoke(*args: str) -> Result:
        return run(*args, env={**WIDE, "OPENDPO_OUTBOX_PATH": str(outbox)})

    return invoke


def new_request(
    session: Session,
    keyring: Keyring,
    *,
    vouched: bool = True,
    received: dt.datetime | None = None,
    identities: list[tuple[str, str]] | None = None,
) -> Request:
    document = load_policy(ROOT / "policies" / "connect-ib.yaml").document
    if current_version(session=session) is None:
        apply_policy(session=session, document=document, source="tests", applied_by="tests")
    request, _ = submit_request(
        session=session,
        keyring=keyring,
        policy=document,
        kind="access",
        identities=identities or [("email", "ann@example.com")],
        details={"description": "my account notes"},
        channel="api",
        actor=Actor(ActorKind.API_KEY, "key-1"),
        context=LetterContext(document, LinkSigner("s" * 40), "https://privacy.example.com"),
        verified_evidence="signed in to the portal" if vouched else None,
        now=received,
    )
    session.commit()
    return request


def test_list_shows_the_queue_and_marks_overdue(
    cli: Run, session: Session, keyring: Keyring
) -> None:
    late = new_request(session, keyring, received=dt.datetime(2024, 1, 10, 10, tzinfo=dt.UTC))
    fresh = new_request(session, keyring)
    result = cli("requests", "list", "--status", "open")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    late_line = next(line for line in lines if late.reference in line)
    assert "OVERDUE" in late_line and "2024-02-12" in late_line
    assert fresh.reference in result.output and "ann@example.com" not in result.output
    overdue = cli("requests", "list", "--overdue")
    assert late.reference in overdue.output and fresh.reference not in overdue.output
    bad = cli("requests", "list", "--status", "lost")
    assert bad.exit_code == 1 and "status: 'lost' is not a status" in bad.output


def test_show_prints_the_request_and_is_audited(
    cli: Run, session: Session, keyring: Keyring
) -> None:
    request = new_request(session, keyring)
    result = cli("requests", "show", request.reference.lower())
    assert result.exit_code == 0, result.output
    assert "ann@example.com" in result.output and "my account notes" in result.output
    assert "received" in result.output and "verified" in result.output
    [entry] = audit.search(session=session, query=AuditQuery(action="request.viewed"))
    assert (entry.actor_kind, entry.target_id) == ("cli", request.id)
    missing = cli("requests", "show", "R-NOTHERE")
    assert missing.exit_code == 1 and "no request with key 'R-NOTHERE'" in missing.output


def test_work_a_request_to_completion(
    cli: Run, session: Session, keyring: Keyring, outbox: Path, tmp_path: Path
) -> None:
    request = new_request(
        session, keyring, vouched=False, identities=[("email", "ann@example.com")]
    )
    identity = request.identities[0].id
    verified = cli("requests", "verify", request.reference, "--identity", str(identity),
                   "--evidence", "passport seen at the desk")  # fmt: skip
    assert verified.exit_code == 0, verified.output
    assert "status verified" in verified.output and "sent 1 letter" in verified.output
    assert cli("requests", "begin", request.reference).exit_code == 0
    paused = cli("requests", "pause", request.reference, "--question", "Which account?")
    assert paused.exit_code == 0, paused.output
    twice = cli("requests", "pause", request.reference, "--question", "Again?")
    assert twice.exit_code == 1 and "already stopped" in twice.output
    assert cli("requests", "resume", request.reference, "--note", "the shop one").exit_code == 0
    extended = cli("requests", "extend", request.id, "--months", "1", "--reason", "complex")
    assert extended.exit_code == 0, extended.output
    response = tmp_path / "response.txt"
    response.write_text("Here is your data.", encoding="utf-8")
    done = cli("requests", "complete", request.reference, "--response-file", str(response))
    assert done.exit_code == 0, done.output
    session.expire_all()
    stored = session.get_one(Request, request.id)
    assert (stored.status, stored.extended_months, stored.response) == (
        "completed",
        1,
        "Here is your data.",
    )
    # acknowledgement, clarification, extension, completion (the code was never sent here)
    assert len(outbox_messages(outbox)) == 4
    entries = audit.search(session=session, query=AuditQuery(target_id=request.id))
    assert {e.actor_kind for e in entries} == {"cli"}
    actions = {e.action for e in entries}
    assert {"request.identity_verified", "request.paused", "request.completed"} <= actions
    closed = cli("requests", "cancel", request.reference, "--reason", "duplicate")
    assert closed.exit_code == 1 and "cannot become cancelled" in closed.output


def test_refuse_and_usage_errors(cli: Run, session: Session, keyring: Keyring) -> None:
    request = new_request(session, keyring)
    neither = cli("requests", "complete", request.reference)
    assert neither.exit_code == 2 and "--response or --response-file" in neither.output
    refused = cli("requests", "refuse", request.reference, "--reason", "manifestly_excessive",
                  "--explanation", "the fifth this month")  # fmt: skip
    assert refused.exit_code == 0, refused.output
    session.expire_all()
    assert session.get_one(Request, request.id).refusal_reason == "manifestly_excessive"
    wrong = cli("requests", "verify", request.reference, "--identity", "999", "--evidence", "x")
    assert wrong.exit_code == 1 and "no identity 999" in wrong.output
