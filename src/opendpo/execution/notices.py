"""Telling recipients of a rectification, erasure or restriction (UK GDPR Art 19).

When the changes are made, the finish step works out which recipients received the data
that changed and adds one NOTIFY step per recipient, waiting: a task staff see (`opendpo
requests notices`) and close through `person_steps.answer` once the recipient is told. A
processor that hosts one of our systems behind an email connection is sent a templated
message at once. Notices name the categories that changed, never the values. They do not
hold up the person's request: the data is already changed, and the completion letter
offers to name the recipients (Art 19, second sentence).

Who received the data comes from the policy: a recipient is told when its `minimum_fields`
hold a category that changed and one of its purposes uses that category in a system that
changed. There is no disclosure log yet (the record of what was actually sent to whom);
once there is, it should replace the policy's answer here, since it is the exact one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.connectors.base import ConnectorError, FieldSpec
from opendpo.connectors.processor_email import ProcessorEmailConnection
from opendpo.execution.outcome import Outcome
from opendpo.execution.planning import Phase
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import StepStatus
from opendpo.execution.systems import SystemBinding, bindings
from opendpo.mail.sender import MailNotSent
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.sharing import Recipient
from opendpo.rights.calendar import add_working_days, local_date
from opendpo.rights.kinds import RequestKind
from opendpo.rights.records import Request

PERSONAL = "user"
WHAT_HAPPENED = {
    RequestKind.RECTIFICATION: "corrected",
    RequestKind.ERASURE: "erased",
    RequestKind.RESTRICTION: "restricted",
    RequestKind.RESTRICTION_LIFT: "released from a restriction",
}
ASKED_OF_RECIPIENT = {
    RequestKind.RECTIFICATION: "correct your copy (ask us for the corrected details, quoting "
    "our reference: they are not sent by email)",
    RequestKind.ERASURE: "erase your copy, unless the law requires you to keep it",
    RequestKind.RESTRICTION: "keep your copy but not otherwise use it until we tell you the "
    "restriction is lifted",
    RequestKind.RESTRICTION_LIFT: "treat your copy as no longer restricted",
}
ANSWER_WITHIN_DAYS = 10
# Art 19: recipients are told of a rectification, an erasure or a restriction (and of its
# lifting, so that their copy does not stay restricted).
NOTICE_KINDS = frozenset(WHAT_HAPPENED)


@dataclass(frozen=True)
class Changed:
    """What a request changed: personal data categories, and the systems they are in."""

    categories: frozenset[str]
    systems: frozenset[str]


@dataclass(frozen=True)
class Notice:
    seq: int
    recipient: str
    name: str
    categories: tuple[str, ...]
    emailed: bool
    status: str
    answer: str | None


def _within(category: str, parent: str) -> bool:
    return category == parent or category.startswith(parent + ".")


def overlaps(one: str, other: str) -> bool:
    """Either category holds the other (user.name holds user.name.first)."""
    return _within(one, other) or _within(other, one)


def _affected(
    policy: PolicyDocument, kind: RequestKind, key: str, fields: Iterable[FieldSpec], inputs: Any
) -> list[FieldSpec]:
    if kind is RequestKind.RECTIFICATION:
        corrections: Mapping[str, Any] = inputs.get("corrections", {})
        return [
            f
            for f in fields
            if not (f.read_only or f.primary_key or f.references)
            and (
                f"{key}.{f.path}" in corrections or any(c in corrections for c in f.data_categories)
            )
        ]
    if kind is RequestKind.ERASURE:
        kept = {name for e in policy.erasure.exemptions if e.collection == key for name in e.keep}
        return [
            f
            for f in fields
            if f.path not in kept
            and any(_within(c, cover) for c in f.data_categories for cover in policy.erasure.covers)
        ]
    return list(fields)  # a restriction covers everything held about the person


def changed_data(
    *,
    policy: PolicyDocument,
    systems: Sequence[SystemBinding],
    steps: Sequence[RequestStep],
    kind: RequestKind,
) -> Changed:
    """The personal data categories the request's finished steps changed (a restriction:
    every category found), and the systems holding them."""
    specs = {c.key: (s.key, c) for s in systems for c in s.collections}
    restriction = kind in (RequestKind.RESTRICTION, RequestKind.RESTRICTION_LIFT)
    categories: set[str] = set()
    touched: set[str] = set()
    for step in steps:
        if step.status != StepStatus.DONE.value:
            continue
        if restriction and step.phase == Phase.FIND.value:
            counts: dict[str, int] = step.summary.get("rows", {})
        elif step.phase in (Phase.ERASE.value, Phase.RECTIFY.value):
            counts = step.summary.get("changed", {})
        else:
            continue
        for key, count in counts.items():
            if not count or key not in specs:
                continue
            system, spec = specs[key]
            found = {
                c
                for f in _affected(policy, kind, key, spec.fields, step.inputs or {})
                for c in f.data_categories
                if _within(c, PERSONAL)
            }
            if found:
                categories |= found
                touched.add(system)
    return Changed(frozenset(categories), frozenset(touched))


def recipients_to_tell(
    policy: PolicyDocument, changed: Changed
) -> list[tuple[Recipient, list[str]]]:
    """Each recipient that received changed data, with the changed categories it received."""
    told: list[tuple[Recipient, list[str]]] = []
    for recipient in policy.recipients:
        purposes = [
            p
            for p in policy.purposes
            if p.key in recipient.purposes and (not p.systems or changed.systems & set(p.systems))
        ]
        received = sorted(
            c
            for c in changed.categories
            if any(overlaps(c, m) for m in recipient.minimum_fields)
            and any(overlaps(c, used) for p in purposes for used in p.data_categories)
        )
        if received:
            told.append((recipient, received))
    return told


def processor_email(
    policy: PolicyDocument, systems: Sequence[SystemBinding], recipient_key: str
) -> ProcessorEmailConnection | None:
    """How a processor is written to: the email connection of a system it hosts for us."""
    hosts = {s.key for s in policy.systems if s.hosted_by == recipient_key}
    roles = {r.key: r.role for r in policy.recipients}
    if roles.get(recipient_key) != "processor":
        return None
    for system in systems:
        if system.key in hosts and isinstance(system.config, ProcessorEmailConnection):
            return system.config
    return None


def _request_steps(session: Session, request: Request) -> list[RequestStep]:
    return list(
        session.scalars(
            select(RequestStep)
            .where(RequestStep.request_id == request.id)
            .order_by(RequestStep.seq)
        )
    )


@dataclass(frozen=True)
class Planned:
    """A notice the finish step owes: to whom, about what, and the message if emailed."""

    recipient: Recipient
    categories: list[str]
    seq: int
    message: Any | None

    def report(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient.key,
            "name": self.recipient.name,
            "categories": self.categories,
            "emailed": self.message is not None,
            "step": self.seq,
        }


def plan_notices(
    runtime: Runtime, session: Session, request: Request, steps: Sequence[RequestStep]
) -> list[Planned]:
    """The notices a finished change owes (reads only: the finish step stores its report
    before it writes anything)."""
    if RequestKind(request.kind) not in NOTICE_KINDS:
        return []
    policy = runtime.policy(session)
    systems = bindings(session=session, policy=policy)
    kind = RequestKind(request.kind)
    changed = changed_data(policy=policy, systems=systems, steps=steps, kind=kind)
    seq = max(s.seq for s in steps) + 1
    planned: list[Planned] = []
    for recipient, categories in recipients_to_tell(policy, changed):
        connection = processor_email(policy, systems, recipient.key)
        message = (
            None
            if connection is None
            else _message(runtime, request, seq, connection, kind, categories)
        )
        planned.append(Planned(recipient, categories, seq, message))
        seq += 1
    return planned


def send_notices(
    runtime: Runtime, session: Session, request: Request, finish: RequestStep, owed: list[Planned]
) -> None:
    """Email the processors, then add one waiting step per notice for staff to close."""
    for notice in owed:
        if notice.message is not None:
            _send(runtime, notice.recipient.name, notice.message)
    for notice in owed:
        session.add(
            RequestStep(
                request_id=request.id,
                seq=notice.seq,
                phase=Phase.NOTIFY.value,
                system=notice.recipient.key,
                dataset=None,
                status=StepStatus.WAITING.value,
                depends_on=[finish.seq],
                attempts=0,
                summary=_waiting(notice.recipient.name, notice.categories, request, notice.message),
                inputs={"name": notice.recipient.name, "categories": notice.categories},
            )
        )


def _send(runtime: Runtime, name: str, message: Any) -> None:
    try:
        runtime.mailer.send(message)
    except MailNotSent as exc:  # the mail server may be back on the next try
        raise ConnectorError(name, exc.message, retryable=True) from None


def _waiting(
    name: str, categories: Sequence[str], request: Request, message: Any | None
) -> dict[str, Any]:
    what = f"{', '.join(categories)} {WHAT_HAPPENED[RequestKind(request.kind)]}"
    return {
        "waiting_for": "staff",
        "categories": list(categories),
        "emailed": message is not None,
        "task": (
            f"tell {name} that {what}; then close this step"
            if message is None
            else f"{name} was emailed that {what}; close this step once they confirm"
        ),
    }


def run_notice(runtime: Runtime, session: Session, request: Request, step: RequestStep) -> Outcome:
    """A notice handed out again (tried once more after failing): sent again, waiting."""
    inputs = step.inputs or {}
    name = str(inputs.get("name", step.system))
    categories = [str(c) for c in inputs.get("categories", [])]
    policy = runtime.policy(session)
    connection = processor_email(policy, bindings(session=session, policy=policy), str(step.system))
    message = (
        None
        if connection is None
        else _message(runtime, request, step.seq, connection, RequestKind(request.kind), categories)
    )
    if message is not None:
        _send(runtime, name, message)
    summary = _waiting(name, categories, request, message)
    return Outcome(
        status=StepStatus.WAITING,
        summary={"attempt": step.attempts, **summary},
        message=f"notice to {name} (Art 19): {summary['task']}",
    )


def _message(
    runtime: Runtime,
    request: Request,
    seq: int,
    connection: ProcessorEmailConnection,
    kind: RequestKind,
    categories: Sequence[str],
) -> Any:
    answer_by = add_working_days(local_date(dt.datetime.now(dt.UTC)), ANSWER_WITHIN_DAYS)
    identities = "\n".join(
        f"  - {i.kind}: {i.value}" for i in request.identities if i.verified_at is not None
    )
    listed = "\n".join(f"  - {c}" for c in categories)
    text = (
        f"Dear {connection.processor_name},\n\n"
        f"Personal data we shared with you about the person below has been "
        f"{WHAT_HAPPENED[kind]} at their request. Under UK GDPR Article 19 we are letting you "
        f"know, so that you can {ASKED_OF_RECIPIENT[kind]}.\n\n"
        f"Our reference: {request.reference}\n"
        f"The person, as verified by us:\n{identities}\n"
        f"The kinds of data concerned:\n{listed}\n\n"
        f"Please confirm by {answer_by:%d %B %Y}, quoting our reference, that you have done so.\n"
    )
    message = runtime.mailer.new_message(
        to=connection.to,
        subject=f"Data protection notice {request.reference}: personal data "
        f"{WHAT_HAPPENED[kind]} (Art 19)",
        text=text,
    )
    if connection.cc:
        message["Cc"] = ", ".join(connection.cc)
    # The same Message-ID on a retry: the recipient's mail system sees one notice, not two.
    domain = runtime.settings.mail_from.rpartition("@")[2] or "opendpo.invalid"
    del message["Message-ID"]
    message["Message-ID"] = f"<request-{request.id}-notice-{seq}@{domain}>"
    return message


def notices_of(*, session: Session, request: Request) -> list[Notice]:
    """The request's notices to recipients, in plan order."""
    return [
        Notice(
            seq=s.seq,
            recipient=str(s.system),
            name=str((s.inputs or {}).get("name", s.system)),
            categories=tuple((s.inputs or {}).get("categories", [])),
            emailed=bool(s.summary.get("emailed")),
            status=s.status,
            answer=s.summary.get("answer"),
        )
        for s in _request_steps(session, request)
        if s.phase == Phase.NOTIFY.value
    ]
