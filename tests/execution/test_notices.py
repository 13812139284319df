"""Art 19: a rectification across the five-system estate tells exactly the recipients that
received the corrected data — a task per recipient, one email to the processor we write to
— and the completion report and letter say so; staff close the notices. And the same
through the CLI (`opendpo requests notices`)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import Result
from five_systems import (
    ALICE,
    connections,
    seed_newsletter,
    seed_sessions,
    seed_shop,
    seed_support,
    write_policy,
)
from http_crm_server import CrmServer
from ruamel.yaml import YAML
from running import STAFF, Run, apply
from sqlalchemy import select

from opendpo.connectors.manual import ManualConnection
from opendpo.execution import driving, person_steps
from opendpo.execution.files import read_blocks
from opendpo.execution.notices import changed_data, notices_of, overlaps, recipients_to_tell
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.runtime import Runtime
from opendpo.execution.systems import SystemBinding
from opendpo.mail.sender import Mailer
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.kinds import RequestKind
from opendpo.rights.records import Request

MAILHOUSE = "privacy@mailhouse.example"
# Who may receive what: the courier (names, for deliveries) and the mailing house (names and
# addresses, for marketing) received the corrected name; the auditors receive only email
# addresses, and the survey firm job titles, but only from the newsletter, which held none.
RECIPIENTS: list[dict[str, Any]] = [
    {"key": "mailhouse", "name": "Mailhouse Ltd", "kind": "processor", "role": "processor",
     "purposes": ["marketing_email"], "minimum_fields": ["user.name", "user.contact.email"]},
    {"key": "auditors", "name": "Auditors LLP", "kind": "professional_adviser",
     "role": "controller", "purposes": ["client_contracts"],
     "minimum_fields": ["user.contact.email"]},
    {"key": "surveys", "name": "Survey Co", "kind": "processor", "role": "processor",
     "purposes": ["customer_surveys"], "minimum_fields": ["user.job_title"]},
]  # fmt: skip


class Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def policy_with_recipients(folder: Path, only: tuple[str, ...] | None = None) -> Path:
    """The five-system policy, plus recipients and a list the mailing house keeps for us
    (reached by email: it is how we write to them)."""
    path = write_policy(folder, only)
    yaml = YAML(typ="safe")
    data = yaml.load(path.read_text(encoding="utf-8"))
    data["recipients"].extend(RECIPIENTS)
    marketing = next(p for p in data["purposes"] if p["key"] == "marketing_email")
    data["purposes"].append(
        {
            **marketing,
            "key": "customer_surveys",
            "name": "Customer surveys",
            "data_categories": ["user.job_title"],
            "systems": ["newsletter"],
        }
    )
    data["systems"].append(
        {
            "key": "mailing_lists",
            "name": "Mailing lists",
            "kind": "email_platform",
            "hosted_by": "mailhouse",
            "connection": {"type": "email", "to": MAILHOUSE, "processor_name": "Mailhouse Ltd"},
        }
    )
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return path


@pytest.fixture
def estate_with_recipients(
    runtime: Runtime,
    tmp_path: Path,
    estate_postgres_url: str,
    estate_mariadb_url: str,
    redis_prefix: tuple[str, str],
    inbox: tuple[Inbox, int],
) -> Iterator[CrmServer]:
    redis_url, prefix = redis_prefix
    seed_shop(estate_postgres_url)
    seed_support(estate_mariadb_url)
    newsletter = seed_newsletter(tmp_path / "newsletter.db")
    seed_sessions(redis_url, prefix)
    runtime.mailer = Mailer(
        runtime.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": inbox[1]})
    )
    with CrmServer().running() as crm:
        apply(
            runtime,
            policy_with_recipients(tmp_path),
            connections(
                shop=estate_postgres_url,
                support=estate_mariadb_url,
                newsletter=newsletter,
                redis_url=redis_url,
                prefix=prefix,
                crm=crm,
            ),
        )
        yield crm


def notify_steps(steps: list[RequestStep]) -> list[tuple[str | None, str, list[str], bool]]:
    return [
        (s.system, s.status, s.summary["categories"], s.summary["emailed"])
        for s in steps
        if s.phase == "notify"
    ]


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.redis
def test_a_rectification_tells_exactly_the_recipients_that_received_the_corrected_data(
    runtime: Runtime,
    estate_with_recipients: CrmServer,
    run_request: Run,
    inbox: tuple[Inbox, int],
) -> None:
    mail, _ = inbox
    request, steps = run_request(
        "rectification",
        ("email", ALICE),
        details={"corrections": "My name is Alice Smith and I am now CTO"},
        inputs={"corrections": {"shop.customers.name": "Alice Smith", "user.job_title": "CTO"}},
    )
    # The mailing house is first asked to correct the list it keeps for us.
    assert request.status == "awaiting_action"
    [asked] = [s for s in steps if s.phase == "person"]
    assert notify_steps(steps) == []
    with runtime.session_factory() as session:
        held = session.get_one(Request, request.id)
        person_steps.answer(
            session=session,
            request=held,
            step=session.get_one(RequestStep, asked.id),
            actor=STAFF,
            outcome="done",
            note="Mailhouse corrected the list",
        )
        session.commit()
    steps = driving.drive(runtime, request.id)

    with runtime.session_factory() as session:
        request = session.get_one(Request, request.id)
        notices = notices_of(session=session, request=request)
        report_file = session.scalars(
            select(StoredFile).where(
                StoredFile.request_id == request.id, StoredFile.purpose == "rectification_report"
            )
        ).one()
    # The request is done; the notices wait for staff to close them.
    assert request.status == "completed"
    assert notify_steps(steps) == [
        ("courier", "waiting", ["user.name"], False),
        ("mailhouse", "waiting", ["user.name"], True),
    ]
    assert [(n.recipient, n.name, n.categories) for n in notices] == [
        ("courier", "Courier", ("user.name",)),
        ("mailhouse", "Mailhouse Ltd", ("user.name",)),
    ]
    finish = next(s for s in steps if s.phase == "finish")
    assert all(s.depends_on == [finish.seq] for s in steps if s.phase == "notify")

    # One notice by email, to the processor we write to: categories, never the new values.
    [request_mail, notice_mail] = mail.to(MAILHOUSE)
    assert request_mail["Subject"].startswith("Data protection request")
    assert "(Art 19)" in notice_mail["Subject"] and request.reference in notice_mail["Subject"]
    body = notice_mail.get_content()
    assert "user.name" in body and ALICE in body and "corrected" in body
    assert "Alice Smith" not in body and "CTO" not in body

    report = json.loads(
        b"".join(read_blocks(session_factory=runtime.session_factory, file_id=report_file.id))
    )
    assert [(r["recipient"], r["categories"], r["emailed"]) for r in report["recipients"]] == [
        ("courier", ["user.name"], False),
        ("mailhouse", ["user.name"], True),
    ]
    [letter] = mail.to(ALICE)
    text = letter.get_content()
    assert "2 organisations we had shared this data with" in text
    assert "You may ask us which organisations they are" in text

    # Staff close the courier's notice once they have phoned it.
    courier = next(s for s in steps if s.phase == "notify" and s.system == "courier")
    with runtime.session_factory() as session:
        person_steps.answer(
            session=session,
            request=session.get_one(Request, request.id),
            step=session.get_one(RequestStep, courier.id),
            actor=STAFF,
            outcome="done",
            note="Phoned the courier's data protection team",
        )
        session.commit()
        closed = notices_of(session=session, request=session.get_one(Request, request.id))
    assert [(n.recipient, n.status, n.answer) for n in closed] == [
        ("courier", "done", "done"),
        ("mailhouse", "waiting", None),
    ]


def test_recipients_are_matched_by_category_purpose_and_system(tmp_path: Path) -> None:
    policy = load_policy(policy_with_recipients(tmp_path)).document
    shop = [s for s in _bindings(policy) if s.key == "shop"]
    name_changed = RequestStep(
        phase="rectify",
        status="done",
        summary={"changed": {"shop.customers": 1, "shop.orders": 0}},
        inputs={"corrections": {"user.name": "Alice Smith"}},
    )
    changed = changed_data(
        policy=policy, systems=shop, steps=[name_changed], kind=RequestKind.RECTIFICATION
    )
    assert (set(changed.categories), set(changed.systems)) == ({"user.name"}, {"shop"})
    told = [(r.key, c) for r, c in recipients_to_tell(policy, changed)]
    assert told == [("courier", ["user.name"]), ("mailhouse", ["user.name"])]
    # Nothing changed (the value was already right): nobody is told.
    unchanged = RequestStep(
        phase="rectify",
        status="done",
        summary={"changed": {"shop.customers": 0}},
        inputs={"corrections": {"user.name": "Alice Smith"}},
    )
    nothing = changed_data(
        policy=policy, systems=shop, steps=[unchanged], kind=RequestKind.RECTIFICATION
    )
    assert recipients_to_tell(policy, nothing) == []
    # An erasure names every personal category it removed; the order total kept for HMRC
    # is not one of them.
    erased = RequestStep(phase="erase", status="done", summary={"changed": {"shop.orders": 2}})
    assert changed_data(
        policy=policy, systems=shop, steps=[erased], kind=RequestKind.ERASURE
    ).categories == {"user.name"}
    assert overlaps("user.name.first", "user.name") and not overlaps("user.name", "user.named")


def _bindings(policy: PolicyDocument) -> list[SystemBinding]:
    by_key = {d.fides_key: d for d in policy.dataset}
    return [
        SystemBinding(
            key=s.key,
            name=s.name,
            config=ManualConnection(type="manual", instructions="Look in the shop."),
            datasets=tuple(by_key[k] for k in s.datasets if k in by_key),
            source="policy",
        )
        for s in policy.systems
    ]


CliRun = Callable[..., Result]


def test_notices_are_listed_and_closed_through_the_cli(run: CliRun, tmp_path: Path) -> None:
    shop = tmp_path / "shop.db"
    seed_shop(f"sqlite:///{shop}")
    env = {"OPENDPO_OUTBOX_PATH": str(tmp_path / "outbox")}
    assert run("db", "upgrade", env=env).exit_code == 0
    policy = write_policy(tmp_path, only=("shop",))
    assert run("policy", "apply", str(policy), "--by", "test", env=env).exit_code == 0
    added = run("systems", "add", "shop", "--url", f"sqlite:///{shop}", env=env)
    assert added.exit_code == 0, added.output
    submitted = run(
        "requests", "submit", "--kind", "erasure", "--identity", f"email={ALICE}",
        "--verified", "--how", "in person", "--wait", env=env,
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    reference = next(
        line.split()[0] for line in submitted.stdout.splitlines() if "request logged" in line
    )
    listed = run("requests", "notices", reference, env=env)
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.output.splitlines() if "Courier" in line]
    assert "user.name" in row and "waiting" in row and "no" in row
    step = row.split("│")[1].strip()
    closed = run(
        "requests", "answer", reference, step, "--done", "--note", "Emailed the courier", env=env
    )
    assert closed.exit_code == 0, closed.output
    [row] = [
        line
        for line in run("requests", "notices", reference, env=env).output.splitlines()
        if "Courier" in line
    ]
    assert "done" in row
