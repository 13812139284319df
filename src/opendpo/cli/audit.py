"""`opendpo audit`: check, read and export the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table

from opendpo.cli.operator import record
from opendpo.cli.state import CliState, pass_state
from opendpo.security import audit, audit_export, chain
from opendpo.security.audit import AuditEntry, AuditQuery

DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"])


@click.group("audit")
def audit_group() -> None:
    """The audit log: verify its chain, read it, export it."""


def _parse_head(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, sep, digest = value.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter(
            "use SEQ:HASH as printed by `opendpo audit head`", param_hint="--head"
        )
    return int(seq), digest.lower()


@audit_group.command("verify")
@click.option(
    "--head",
    "recorded",
    metavar="SEQ:HASH",
    help="A head recorded earlier (`opendpo audit head`) that the log must still contain.",
)
@pass_state
def verify_command(state: CliState, recorded: str | None) -> None:
    """Recompute the chain; exit 1 naming the first entry edited, deleted or moved."""
    expected = _parse_head(recorded)
    keyring = state.keyring()
    with state.session() as session:
        total = audit.count(session=session)
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("entries", total=total)
            result = audit.verify(
                session=session, keyring=keyring, progress=lambda n: progress.advance(task, n)
            )
        problem = result.problem
        if problem is None and expected is not None:
            seq, digest = expected
            entry = session.get(AuditEntry, seq)
            if entry is None or entry.hash != digest:
                problem = (
                    f"entry {seq} is not the one recorded with --head: the log was truncated "
                    "and rewritten from there, or the recorded head is from another store"
                )
    if problem is not None:
        click.echo(f"audit log damaged: {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"audit log intact: {result.checked} entries")


@audit_group.command("head")
@pass_state
def head_command(state: CliState) -> None:
    """Print the latest entry's number and hash, to record somewhere else.

    The chain shows any edit, deletion or reordering, except one: cutting the newest entries
    off and winding the chain head back to match. A head recorded outside the store (a
    ticket, a log shipped elsewhere, a printed report) catches that: pass it to
    `opendpo audit verify --head SEQ:HASH` later.
    """
    with state.session() as session:
        seq, digest = chain.head(session=session, chain=audit.CHAIN)
    click.echo(f"seq: {seq}")
    click.echo(f"hash: {digest}")
    click.echo(f"record it, then check later with: opendpo audit verify --head {seq}:{digest}")


@audit_group.command("list")
@click.option("--action", help="Only actions starting with this, e.g. 'staff.'.")
@click.option("--actor", help="Only entries by this actor id (username, key id, OS user).")
@click.option("--target", help="Only entries about this target id.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@pass_state
def list_command(
    state: CliState, action: str | None, actor: str | None, target: str | None, limit: int
) -> None:
    """Show the newest audit entries, newest first."""
    query = AuditQuery(actor_id=actor, action=action, target_id=target)
    # Numbers, times and actions whole; the free-form columns fold when the terminal is narrow.
    table = Table(
        *(Column(header, no_wrap=True) for header in ("seq", "at (UTC)", "actor", "action")),
        *(Column(header, overflow="fold") for header in ("target", "details")),
    )
    with state.session() as session:
        for entry in audit.search(session=session, query=query, limit=limit):
            table.add_row(
                str(entry.seq),
                audit.as_utc(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
                f"{entry.actor_kind}:{entry.actor_id or ''}".rstrip(":"),
                entry.action,
                f"{entry.target_kind or ''}:{entry.target_id or ''}".strip(":"),
                json.dumps(entry.details, sort_keys=True) if entry.details else "",
            )
    Console().print(table)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None else None


@audit_group.command("export")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="CSV file to write.",
)
@click.option(
    "--since",
    type=DATE,
    metavar="DATE",
    help="From this moment (UTC, inclusive): YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS].",
)
@click.option("--until", type=DATE, metavar="DATE", help="Up to this moment (UTC, exclusive).")
@pass_state
def export_command(
    state: CliState, output: Path, since: dt.datetime | None, until: dt.datetime | None
) -> None:
    """Write the audit log, oldest first, to a CSV file; the export is itself audited.

    Every column is written, the hashes included, so the export can be checked on its own.
    """
    start, end = _utc(since), _utc(until)
    if start is not None and end is not None and end <= start:
        raise click.BadParameter("must be later than --since", param_hint="--until")
    # Written beside the target and renamed, so a failed export never leaves half a file.
    partial = output.with_name(output.name + ".partial")
    with state.session() as session:
        try:
            with partial.open("w", newline="", encoding="utf-8") as handle:
                entries = audit_export.entries_between(session=session, since=start, until=end)
                result = audit_export.write_csv(handle, entries)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
        partial.replace(output)
        record(
            state,
            session,
            "audit.exported",
            details={
                "rows": result.rows,
                "first_seq": result.first_seq,
                "last_seq": result.last_seq,
                "since": start.isoformat() if start else None,
                "until": end.isoformat() if end else None,
            },
        )
    click.echo(f"exported {result.rows} audit entries to {output}")
