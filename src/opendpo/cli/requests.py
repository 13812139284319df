"""`opendpo requests`: the queue, one request and its timeline, and working a request from the
command line. Requests are named by reference (R-XXXXXXXX) or id; every command is audited as
the operator, and the letters a step owes are sent once it has committed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Column, Table

from opendpo.cli.operator import cli_actor, domain_errors, record
from opendpo.cli.state import CliState, pass_state
from opendpo.mail.sender import Mailer
from opendpo.rights import queue
from opendpo.rights.actions import ACTIONS, Fields, perform
from opendpo.rights.handling import deliver, get_request
from opendpo.rights.kinds import RefusalReason, RequestKind
from opendpo.rights.records import Request
from opendpo.rights.reminders import owed, send_reminders
from opendpo.rights.timeline import events
from opendpo.security.audit import as_utc
from opendpo.store.engine import make_session_factory
from opendpo.store.migrate import is_up_to_date

TARGET = "request"


@click.group("requests")
def requests_group() -> None:
    """Rights requests: the queue, one request, and the steps of working it."""


@requests_group.command("list")
@click.option("--status", help="A status, or 'open' or 'closed'.", metavar="STATUS")
@click.option("--kind", type=click.Choice([k.value for k in RequestKind]))
@click.option("--overdue", is_flag=True, help="Only open requests past their due date.")
@click.option("--limit", type=click.IntRange(1, queue.MAX_LIMIT), default=50, show_default=True)
@pass_state
def list_command(
    state: CliState, status: str | None, kind: str | None, overdue: bool, limit: int
) -> None:
    """The queue, soonest due first: no personal data is shown."""
    with domain_errors(), state.session() as session:
        chosen = queue.QueueFilter(status=status or "", kind=kind or "", overdue_only=overdue)
        found = queue.list_requests(
            session=session, filters=chosen, today=queue.london_today(), limit=limit
        )
        table = Table(
            *(Column(h, no_wrap=True) for h in ("reference", "kind", "status", "received")),
            Column("due", no_wrap=True),
            Column("working days left", justify="right"),
            title=f"Requests ({len(found.rows)} of {found.total})",
        )
        for row in found.rows:
            left = row.days_left
            table.add_row(
                row.reference,
                row.kind,
                row.status,
                f"{as_utc(row.received_at):%Y-%m-%d}",
                str(row.due_on or ""),
                "" if left is None else (f"OVERDUE ({left})" if left < 0 else str(left)),
                style="bold red" if row.urgency is queue.Urgency.OVERDUE else None,
            )
    Console(width=120).print(table)


@requests_group.command("show")
@click.argument("key", metavar="REF_OR_ID")
@pass_state
def show_command(state: CliState, key: str) -> None:
    """One request: what was asked, the identities and the timeline. Audited as a view."""
    console = Console(width=120)
    with domain_errors(), state.session() as session:
        request = get_request(session=session, key=key)
        record(
            state,
            session,
            "request.viewed",
            target_kind=TARGET,
            target_id=request.id,
            details={"reference": request.reference, "part": "request"},
        )
        left, _ = queue.urgency(
            status=request.status, due_on=request.due_on, today=queue.london_today()
        )
        summary = Table.grid(padding=(0, 2))
        for label, value in (
            ("reference", request.reference),
            ("id", request.id),
            ("kind", request.kind),
            ("status", request.status),
            ("channel", request.channel),
            ("received", f"{as_utc(request.received_at):%Y-%m-%d %H:%M} UTC"),
            ("clock starts", str(request.clock_starts_on or "not yet")),
            ("due", str(request.due_on or "not yet")),
            ("working days left", "" if left is None else str(left)),
            ("extended by", f"{request.extended_months} month(s)"),
            ("assigned to", request.assigned_to or "nobody"),
            *((f"details.{k}", v) for k, v in sorted(request.details.items())),
            ("response", request.response or ""),
        ):
            summary.add_row(label, str(value))
        identities = Table("id", "kind", "value", "verified", title="Identities")
        for identity in request.identities:
            verified = f"{as_utc(identity.verified_at):%Y-%m-%d}" if identity.verified_at else "no"
            identities.add_row(str(identity.id), identity.kind, identity.value, verified)
        timeline = Table(
            Column("at (UTC)", no_wrap=True), "who", "what", "message", title="Timeline"
        )
        for event in events(session=session, request_id=request.id):
            change = f"{event.from_status or ''} → {event.to_status}" if event.to_status else ""
            timeline.add_row(
                f"{as_utc(event.at):%Y-%m-%d %H:%M}",
                f"{event.actor_kind} {event.actor_id or ''}".strip(),
                " ".join(filter(None, [event.kind, change])),
                event.message or "",
            )
        console.print(summary)
        console.print(identities)
        console.print(timeline)


def _act(state: CliState, key: str, name: str, fields: Fields | None = None) -> None:
    """Run one action in a transaction, audit it, commit, then send its letters."""
    action = ACTIONS[name]
    engine = state.engine()
    with domain_errors():
        with state.session() as session:
            context = state.letter_context(session)
            request = get_request(session=session, key=key)
            sent, details = perform(
                session=session,
                request=request,
                action=action,
                actor=cli_actor(),
                context=context,
                fields=fields or Fields(),
            )
            record(
                state,
                session,
                action.audit_action,
                target_kind=TARGET,
                target_id=request.id,
                details=details,
            )
            reference, request_id, status = request.reference, request.id, request.status
        with make_session_factory(engine)() as session:
            request = session.get_one(Request, request_id)
            delivered = deliver(
                session=session,
                mailer=Mailer(state.settings()),
                request=request,
                sent=sent,
                actor=cli_actor(),
            )
    click.echo(f"{reference}: {action.verb.replace('_', ' ')} (status {status})")
    if sent and delivered:
        click.echo(f"sent {len(sent)} letter(s) to the person")
    elif sent:
        click.echo("the letter was NOT sent: see the request's timeline", err=True)


@requests_group.command("verify")
@click.argument("key", metavar="REF")
@click.option(
    "--identity", "identity_id", type=int, required=True, help="The identity's id (`show`)."
)
@click.option("--evidence", required=True, help="How it was confirmed: documents seen, call-back…")
@pass_state
def verify_command(state: CliState, key: str, identity_id: int, evidence: str) -> None:
    """Verify one identity of a request, recording the evidence."""
    _act(state, key, "verify", Fields(identity_id=identity_id, evidence=evidence))


@requests_group.command("begin")
@click.argument("key", metavar="REF")
@pass_state
def begin_command(state: CliState, key: str) -> None:
    """Start work on a verified request."""
    _act(state, key, "begin")


@requests_group.command("extend")
@click.argument("key", metavar="REF")
@click.option("--months", type=click.IntRange(1, 2), required=True)
@click.option("--reason", required=True, help="Why: sent to the person.")
@pass_state
def extend_command(state: CliState, key: str, months: int, reason: str) -> None:
    """Extend the deadline by one or two months (only within the first month)."""
    _act(state, key, "extend", Fields(months=months, reason=reason))


@requests_group.command("pause")
@click.argument("key", metavar="REF")
@click.option("--question", required=True, help="The clarification needed: sent to the person.")
@pass_state
def pause_command(state: CliState, key: str, question: str) -> None:
    """Stop the clock and ask the person for a clarification."""
    _act(state, key, "pause", Fields(question=question))


@requests_group.command("resume")
@click.argument("key", metavar="REF")
@click.option("--note", default="", help="What the person answered.")
@pass_state
def resume_command(state: CliState, key: str, note: str) -> None:
    """The person replied: the clock runs again."""
    _act(state, key, "resume", Fields(note=note))


@requests_group.command("refuse")
@click.argument("key", metavar="REF")
@click.option("--reason", type=click.Choice([r.value for r in RefusalReason]), required=True)
@click.option("--explanation", required=True, help="Sent to the person with the right to complain.")
@pass_state
def refuse_command(state: CliState, key: str, reason: str, explanation: str) -> None:
    """Refuse, with the Art 12(5) or exemption reason."""
    _act(state, key, "refuse", Fields(reason=reason, explanation=explanation))


@requests_group.command("complete")
@click.argument("key", metavar="REF")
@click.option("--response", help="The response letter's text.")
@click.option(
    "--response-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A UTF-8 file holding the response letter's text.",
)
@pass_state
def complete_command(
    state: CliState, key: str, response: str | None, response_file: Path | None
) -> None:
    """Complete the request, sending the response to the person."""
    if (response is None) == (response_file is None):
        raise click.UsageError("give one of --response or --response-file")
    if response_file is not None:
        response = response_file.read_text(encoding="utf-8")
    _act(state, key, "complete", Fields(response=response or ""))


@requests_group.command("cancel")
@click.argument("key", metavar="REF")
@click.option("--reason", required=True, help="Why, e.g. withdrawn by the person, a duplicate.")
@pass_state
def cancel_command(state: CliState, key: str, reason: str) -> None:
    """Cancel a request."""
    _act(state, key, "cancel", Fields(reason=reason))


@requests_group.command("remind")
@click.option("--dry-run", is_flag=True, help="List the reminders owed without sending them.")
@pass_state
def remind_command(state: CliState, dry_run: bool) -> None:
    """Send staff the reminders owed now (due soon, overdue), each once; for cron."""
    settings = state.settings()
    engine = state.engine()
    if not is_up_to_date(engine):
        raise click.ClickException(
            "the store's schema is not up to date: run `opendpo db upgrade` first"
        )
    # Not one transaction: send_reminders commits each claim before sending (at most once).
    with make_session_factory(engine)() as session:
        if dry_run:
            today = queue.london_today()
            due = owed(session=session, today=today, working_days=settings.reminder_working_days)
            for request, kind, left in due:
                click.echo(f"{request.reference}: {kind.value} ({left} working days left)")
            click.echo(f"{len(due)} reminder(s) owed")
            return
        count = send_reminders(session=session, mailer=Mailer(settings), base_url=settings.base_url)
    click.echo(f"sent {count} reminder(s)")
