"""Staff reminders: due soon and overdue, once per request, kind and due date, to the assignee
or the DPOs, retried after a failed send, and once only with two senders at the same time."""

from __future__ import annotations

import datetime as dt
import threading
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opendpo.mail.sender import Mailer, MailNotSent, outbox_messages
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import apply_policy
from opendpo.rights import clock, workflow
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request, RequestEvent, RequestReminder
from opendpo.rights.reminders import send_reminders
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Role
from opendpo.security.staff import add_user
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

# Received and vouched for Thursday 3 September 2026: due Monday 5 October 2026.
RECEIVED = dt.datetime(2026, 9, 3, 9, 0, tzinfo=dt.UTC)
DUE = dt.date(2026, 10, 5)
BASE = "https://dpo.example.com"
STAFF = Actor(ActorKind.STAFF, "staff-1")


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


@pytest.fixture
def mailer(settings: Settings, tmp_path: Path) -> Mailer:
    return Mailer(settings.model_copy(update={"outbox_path": tmp_path / "outbox"}))


def mail(mailer: Mailer) -> list[Message]:
    return [
        message_from_bytes(p.read_bytes()) for p in outbox_messages(mailer.settings.outbox_path)
    ]


def new_request(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> Request:
    request, _ = submit_request(
        session=session,
        keyring=keyring,
        policy=policy,
        kind="access",
        identities=[("email", "ann@example.com")],
        details={"description": "secret words"},
        channel="api",
        actor=STAFF,
        context=letters,
        verified_evidence="portal sign-in",
        now=RECEIVED,
    )
    session.commit()
    assert request.due_on == DUE
    return request


@pytest.fixture
def dpo(session: Session, policy: PolicyDocument) -> str:
    apply_policy(session=session, document=policy, source="tests", applied_by="tests")
    user, _ = add_user(session=session, username="dana", role=Role.DPO, display_name="Dana")
    session.commit()
    return user.id


def test_due_soon_then_overdue_each_once_to_the_dpo_mailbox(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    mailer: Mailer,
    dpo: str,
) -> None:
    request = new_request(session, keyring, policy, letters)
    # Monday 28 September: five working days left, more than the three of the setting.
    assert (
        send_reminders(session=session, mailer=mailer, base_url=BASE, now=at(dt.date(2026, 9, 28)))
        == 0
    )
    # Wednesday 30 September: three working days left.
    wednesday = at(dt.date(2026, 9, 30))
    assert send_reminders(session=session, mailer=mailer, base_url=BASE, now=wednesday) == 1
    assert send_reminders(session=session, mailer=mailer, base_url=BASE, now=wednesday) == 0
    [soon] = mail(mailer)
    assert soon["To"] == policy.controller.dpo.email
    assert str(soon["Subject"]).startswith(f"Due soon: request {request.reference}")
    body = soon.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert f"{BASE}/console/requests/{request.id}" in text and "3 working days" in text
    assert "ann@example.com" not in text and "secret words" not in text
    # Tuesday 6 October: overdue.
    assert (
        send_reminders(session=session, mailer=mailer, base_url=BASE, now=at(dt.date(2026, 10, 6)))
        == 1
    )
    overdue = [m for m in mail(mailer) if str(m["Subject"]).startswith("Overdue")]
    assert len(overdue) == 1
    kinds = session.scalars(
        select(RequestEvent.data).where(RequestEvent.kind == "reminder_sent")
    ).all()
    assert [k["reminder"] for k in kinds] == ["due_soon", "overdue"]


def test_the_assignee_is_reminded_and_a_new_due_date_brings_a_new_reminder(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    mailer: Mailer,
    dpo: str,
) -> None:
    mailer = Mailer(mailer.settings.model_copy(update={"staff_mail_domain": "connect-ib.example"}))
    agent, _ = add_user(session=session, username="sam", role=Role.AGENT, display_name="Sam")
    request = new_request(session, keyring, policy, letters)
    workflow.assign(session=session, request=request, actor=STAFF, staff=agent)
    session.commit()
    first = at(dt.date(2026, 9, 30))
    assert send_reminders(session=session, mailer=mailer, base_url=BASE, now=first) == 1
    assert [m["To"] for m in mail(mailer)] == ["sam@connect-ib.example"]
    request = session.get_one(Request, request.id)
    clock.extend(session=session, request=request, actor=STAFF, months=1, reason="complex",
                    context=letters, now=first)  # fmt: skip
    session.commit()
    assert request.due_on == dt.date(2026, 11, 3)
    # The new due date is 3 working days away on Thursday 29 October: a new reminder.
    assert (
        send_reminders(session=session, mailer=mailer, base_url=BASE, now=at(dt.date(2026, 10, 29)))
        == 1
    )
    reminders = session.scalars(select(RequestReminder.due_on).order_by(RequestReminder.id)).all()
    assert reminders == [DUE, dt.date(2026, 11, 3)]


def test_a_paused_or_closed_request_is_not_reminded(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    mailer: Mailer,
    dpo: str,
) -> None:
    paused = new_request(session, keyring, policy, letters)
    clock.pause(session=session, request=paused, actor=STAFF, question="Which account?",
                   context=letters, now=RECEIVED)  # fmt: skip
    closed = new_request(session, keyring, policy, letters)
    workflow.cancel(session=session, request=closed, actor=STAFF, reason="dup", context=None)
    session.commit()
    assert send_reminders(session=session, mailer=mailer, base_url=BASE, now=at(DUE)) == 0


def test_a_failed_send_is_noted_and_retried_later(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    mailer: Mailer,
    dpo: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = new_request(session, keyring, policy, letters)

    def refuse(message: object) -> None:
        raise MailNotSent("the mail server at smtp.example refused the message: 451")

    monkeypatch.setattr(mailer, "send", refuse)
    now = at(dt.date(2026, 10, 1))
    assert send_reminders(session=session, mailer=mailer, base_url=BASE, now=now) == 0
    assert session.scalars(select(RequestReminder)).all() == []
    [failed] = session.scalars(
        select(RequestEvent).where(RequestEvent.kind == "reminder_failed")
    ).all()
    assert failed.request_id == request.id and "451" in (failed.message or "")
    monkeypatch.undo()
    assert send_reminders(session=session, mailer=mailer, base_url=BASE, now=now) == 1


@pytest.mark.postgres
def test_two_senders_at_once_send_each_reminder_once(
    engine: Engine,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    mailer: Mailer,
    dpo: str,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL")
    for _ in range(8):
        new_request(session, keyring, policy, letters)
    now = at(dt.date(2026, 10, 1))
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def sender() -> None:
        with make_session_factory(engine)() as own:
            barrier.wait()
            counts.append(send_reminders(session=own, mailer=mailer, base_url=BASE, now=now))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 8
    assert len(mail(mailer)) == 8
    assert len(session.scalars(select(RequestReminder)).all()) == 8
