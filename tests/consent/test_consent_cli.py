"""`opendpo consent`: verify, history, record by phone or paper, receipts, rebuild."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from consent_helpers import Applied, answer
from sqlalchemy import text
from sqlalchemy.orm import Session

from opendpo.consent import ledger
from opendpo.consent.ledger import ConsentRecord, ConsentState
from opendpo.security import audit
from opendpo.security.audit import AuditQuery
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Role
from opendpo.security.staff import add_user

Run = Callable[..., Result]
WIDE = {"COLUMNS": "200"}


def add_agent(session: Session) -> str:
    user, _ = add_user(session=session, username="sam", role=Role.AGENT, display_name="Sam")
    session.commit()
    return user.id


def test_record_by_phone_then_history(
    run: Run, session: Session, keyring: Keyring, applied: Applied
) -> None:
    staff_id = add_agent(session)
    result = run(
        "consent", "record", "--email", "Ann@Example.com", "--purpose", "marketing_email",
        "--channel", "email", "--state", "given", "--method", "phone",
        "--evidence", "call 2026-03-02 09:10, agreed", "--staff", "sam",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.startswith("recorded given for 'marketing_email' by email: record ")
    session.expire_all()
    [record] = session.query(ConsentRecord).all()
    assert (record.method, record.staff_id) == ("phone", staff_id)
    assert record.evidence == {"notes": "call 2026-03-02 09:10, agreed"}
    [entry] = audit.search(session=session, query=AuditQuery(action="consent.recorded"))
    assert entry.actor_kind == "cli" and "example.com" not in json.dumps(entry.details)

    history = run("consent", "history", "--email", "ann@example.com", env=WIDE)
    assert history.exit_code == 0, history.output
    assert "Current preferences" in history.output
    assert record.id in history.output and "phone" in history.output
    viewed = audit.search(session=session, query=AuditQuery(action="person.consent_viewed"))
    assert [e.target_id for e in viewed] == [record.person_id]

    unknown = run("consent", "history", "--email", "zed@example.com")
    assert unknown.exit_code == 1 and "no person is known by this email" in unknown.output
    both = run("consent", "history", "--email", "a@example.com", "--phone", "07700900123")
    assert both.exit_code == 2 and "one of --email, --phone or --customer-id" in both.output


def test_record_refuses_bad_values_and_writes_nothing(
    run: Run, session: Session, applied: Applied
) -> None:
    add_agent(session)
    base = ["consent", "record", "--channel", "email", "--state", "given", "--method", "paper"]
    base += ["--evidence", "form 17"]
    cases = [
        (["--email", "nope", "--purpose", "marketing_email", "--staff", "sam"], "email:"),
        (["--email", "a@example.com", "--purpose", "news", "--staff", "sam"], "purpose:"),
        (["--email", "a@example.com", "--purpose", "marketing_email", "--staff", "x"], "staff"),
    ]
    for extra, message in cases:
        result = run(*base, *extra)
        assert result.exit_code == 1, result.output
        assert message in result.output
    session.expire_all()
    assert session.query(ConsentRecord).count() == 0


def test_verify_passes_then_names_the_bad_record(
    run: Run, session: Session, keyring: Keyring, applied: Applied
) -> None:
    for state in (ConsentState.GIVEN, ConsentState.WITHDRAWN):
        answer(session, keyring, applied, state)
    ok = run("consent", "verify")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == "consent ledger intact: 2 records\n"
    session.execute(text("UPDATE consent_records SET purpose = 'other' WHERE seq = 1"))
    session.commit()
    bad = run("consent", "verify")
    assert bad.exit_code == 1
    assert "consent ledger damaged: entry 1 was edited" in bad.stderr


def test_receipt_printed_and_sent(
    run: Run, session: Session, keyring: Keyring, applied: Applied, tmp_path: Path
) -> None:
    _, record = answer(session, keyring, applied, ConsentState.GIVEN)
    printed = run("consent", "receipt", record.id)
    assert printed.exit_code == 0, printed.output
    document = json.loads(printed.stdout)
    assert document["header"]["recordId"] == record.id
    assert document["kantara"]["version"] == "KI-CR-v1.1.0"

    outbox = tmp_path / "cli-outbox"
    sent = run("consent", "receipt", record.id, "--send", env={"OPENDPO_OUTBOX_PATH": str(outbox)})
    assert sent.exit_code == 0, sent.output
    [message] = outbox.glob("*.eml")
    assert "To: ann@example.com" in message.read_text()
    actions = [e.action for e in audit.search(session=session, query=AuditQuery(action="consent."))]
    assert actions == ["consent.receipt_sent", "consent.receipt_viewed"]
    missing = run("consent", "receipt", "no-such-record")
    assert missing.exit_code == 1 and "no consent record" in missing.output


def test_rebuild_restores_the_preferences(
    run: Run, session: Session, keyring: Keyring, applied: Applied
) -> None:
    person, _ = answer(session, keyring, applied, ConsentState.WITHDRAWN)
    session.execute(text("UPDATE consent_states SET state = 'given'"))
    session.commit()
    result = run("consent", "rebuild")
    assert result.exit_code == 0, result.output
    assert result.stdout == "rebuilt 1 current preferences from the ledger\n"
    session.expire_all()
    [current] = ledger.current_for_person(session=session, person_id=person.id)
    assert current.state == "withdrawn"
