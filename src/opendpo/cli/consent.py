"""`opendpo consent`: verify the ledger, read a person's history, record consent taken by
phone or on paper, issue receipts and rebuild the current preferences."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table
from sqlalchemy import func, select

from opendpo.cli.operator import domain_errors, record
from opendpo.cli.state import CliState, pass_state
from opendpo.consent import ledger
from opendpo.consent.ledger import Channel, CollectionMethod, ConsentRecord, ConsentState, Proof
from opendpo.consent.receipt_mail import email_of, send_receipt
from opendpo.consent.receipts import receipt_for
from opendpo.consent.service import record_consent
from opendpo.errors import DomainError, NoPolicyApplied
from opendpo.mail.sender import Mailer
from opendpo.policy.versions import current_version
from opendpo.security.audit import as_utc
from opendpo.security.staff import get_user
from opendpo.subjects.identities import IdentityKind
from opendpo.subjects.people import find_person

STAFF_METHODS = ("phone", "paper", "email")


def identity_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for flag, kind in (
        ("--customer-id", "customer_id"),
        ("--phone", "phone"),
        ("--email", "email"),
    ):
        function = click.option(
            flag, kind, metavar="VALUE", help=f"The person's {kind.replace('_', ' ')}."
        )(function)
    return function


def chosen_identity(
    email: str | None, phone: str | None, customer_id: str | None
) -> tuple[str, str]:
    given = [
        (kind.value, value)
        for kind, value in (
            (IdentityKind.EMAIL, email),
            (IdentityKind.PHONE, phone),
            (IdentityKind.CUSTOMER_ID, customer_id),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise click.UsageError("name the person by one of --email, --phone or --customer-id")
    return given[0]


@click.group("consent")
def consent_group() -> None:
    """The consent ledger: verify it, read it, add to it, issue receipts."""


@consent_group.command("verify")
@pass_state
def verify_command(state: CliState) -> None:
    """Recompute the ledger's hash chain; exit 1 naming the first record edited, deleted or
    moved."""
    keyring = state.keyring()
    with state.session() as session:
        total = session.scalar(select(func.count()).select_from(ConsentRecord)) or 0
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("records", total=total)
            result = ledger.verify(
                session=session, keyring=keyring, progress=lambda n: progress.advance(task, n)
            )
    if result.problem is not None:
        click.echo(f"consent ledger damaged: {result.problem}", err=True)
        raise SystemExit(1)
    click.echo(f"consent ledger intact: {result.checked} records")


@consent_group.command("history")
@identity_options
@pass_state
def history_command(
    state: CliState, email: str | None, phone: str | None, customer_id: str | None
) -> None:
    """Show one person's current preferences and every consent record, newest first.

    Reading it is written to the audit log.
    """
    kind, value = chosen_identity(email, phone, customer_id)
    keyring = state.keyring()
    with domain_errors(), state.session() as session:
        person = find_person(session=session, keyring=keyring, kind=kind, value=value)
        if person is None:
            raise click.ClickException(f"no person is known by this {kind}")
        current = ledger.current_for_person(session=session, person_id=person.id)
        history = ledger.history_for_person(session=session, person_id=person.id)
        record(
            state,
            session,
            "person.consent_viewed",
            target_kind="person",
            target_id=person.id,
        )
        preferences = Table(
            *(Column(h, no_wrap=True) for h in ("purpose", "channel", "state", "since (UTC)")),
            Column("expires", no_wrap=True),
            Column("renewal", no_wrap=True),
            title=f"Current preferences of person {person.id}",
        )
        for item in current:
            preferences.add_row(
                item.purpose,
                item.channel,
                item.state,
                _when(item.at),
                _when(item.expires_at) if item.expires_at else "",
                "needed" if item.needs_renewal else "",
            )
        records = Table(
            *(Column(h, no_wrap=True) for h in ("seq", "at (UTC)", "purpose", "channel", "state")),
            Column("method", no_wrap=True),
            Column("notice", no_wrap=True),
            Column("record id", overflow="fold"),
            title="Consent records",
        )
        for entry in history:
            records.add_row(
                str(entry.seq),
                _when(entry.at),
                entry.purpose,
                entry.channel,
                entry.state,
                entry.method,
                entry.notice_version,
                entry.id,
            )
    console = Console()
    console.print(preferences)
    console.print(records)


def _when(moment: Any) -> str:
    return str(as_utc(moment).strftime("%Y-%m-%d %H:%M"))


@consent_group.command("record")
@identity_options
@click.option("--name", help="The person's name, if new to us.")
@click.option("--purpose", required=True, help="The policy's purpose key (or cookie category).")
@click.option("--channel", required=True, type=click.Choice([c.value for c in Channel]))
@click.option(
    "--state", "answer", required=True, type=click.Choice([s.value for s in ConsentState])
)
@click.option("--method", required=True, type=click.Choice(STAFF_METHODS), help="How taken.")
@click.option("--evidence", required=True, help="Call notes, the signed form's reference …")
@click.option(
    "--staff", "username", required=True, help="Username of the staff member who took it."
)
@click.option("--source", help="Where: the campaign, the form's name, the call's reference.")
@pass_state
def record_command(
    state: CliState,
    email: str | None,
    phone: str | None,
    customer_id: str | None,
    name: str | None,
    purpose: str,
    channel: str,
    answer: str,
    method: str,
    evidence: str,
    username: str,
    source: str | None,
) -> None:
    """Record consent given, withdrawn or refused by phone, on paper or by email."""
    identity = chosen_identity(email, phone, customer_id)
    keyring = state.keyring()
    with domain_errors(), state.session() as session:
        version = current_version(session=session)
        if version is None:
            raise NoPolicyApplied()
        staff = get_user(session=session, username=username)
        if not staff.active:
            raise DomainError(f"staff member '{username}' is disabled")
        person, entry = record_consent(
            session=session,
            keyring=keyring,
            policy=version.policy(),
            policy_version=version.number,
            identities=[identity],
            purpose=purpose,
            channel=channel,
            state=ConsentState(answer),
            proof=Proof(
                method=CollectionMethod(method),
                source=source,
                staff_id=staff.id,
                evidence={"notes": evidence},
            ),
            name=name,
        )
        record(
            state,
            session,
            "consent.recorded",
            target_kind="consent_record",
            target_id=entry.id,
            details={
                "person_id": person.id,
                "purpose": entry.purpose,
                "channel": entry.channel,
                "state": entry.state,
                "method": entry.method,
            },
        )
        summary = f"recorded {entry.state} for '{entry.purpose}' by {entry.channel}"
        click.echo(f"{summary}: record {entry.id} (ledger entry {entry.seq})")


@consent_group.command("receipt")
@click.argument("record_id")
@click.option("--send", is_flag=True, help="Email it to the person instead of printing it.")
@pass_state
def receipt_command(state: CliState, record_id: str, send: bool) -> None:
    """Print the receipt of one consent record as JSON (ISO/IEC TS 27560, Kantara v1.1), or
    email it to the person."""
    with domain_errors(), state.session() as session:
        issued = receipt_for(session=session, settings=state.settings(), record_id=record_id)
        action = "consent.receipt_sent" if send else "consent.receipt_viewed"
        record(
            state,
            session,
            action,
            target_kind="consent_record",
            target_id=issued.record.id,
            details={"person_id": issued.person.id},
        )
        if send:
            address = email_of(issued.person)
            send_receipt(mailer=Mailer(state.settings()), to=address, document=issued.document)
    if send:
        click.echo(f"sent the receipt of {record_id} to the person's email address")
    else:
        click.echo(json.dumps(issued.document, indent=2, ensure_ascii=False))


@consent_group.command("rebuild")
@pass_state
def rebuild_command(state: CliState) -> None:
    """Recompute every current preference from the ledger (renewal marks are kept)."""
    with state.session() as session:
        columns = (TextColumn("rebuilding"), BarColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("preferences", total=1)
            count = ledger.rebuild_states(session=session)
            progress.advance(task)
        record(state, session, "consent.preferences_rebuilt", details={"preferences": count})
    click.echo(f"rebuilt {count} current preferences from the ledger")
