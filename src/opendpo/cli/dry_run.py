"""`opendpo requests dry-run REF`: what erasing the person would change, and nothing changed.

Shared with `requests submit --kind erasure --dry-run`, which logs the request and previews it
instead of running it. The request is left as it was, ready for `opendpo requests run`; the
preview is a line on its timeline and in the audit log.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from opendpo.cli.operator import cli_actor, domain_errors, record
from opendpo.cli.requests import TARGET, requests_group
from opendpo.cli.state import CliState, pass_state
from opendpo.execution.dry_run import DryRun, dry_run, record_dry_run, write_json
from opendpo.execution.runtime import Runtime, make_runtime
from opendpo.rights.handling import get_request

__all__ = ["dry_run_command", "show_dry_run"]


# Rows per collection printed; `--output` lists every one.
SHOWN_ROWS = 50


def show_dry_run(state: CliState, runtime: Runtime, key: str, output: Path | None) -> str:
    """Preview the erasure, note it on the request, print it (and write it all to `output`);
    the request's reference."""
    with state.session() as session:
        request = get_request(session=session, key=key)
        with dry_run(runtime=runtime, session=session, request=request) as preview:
            record_dry_run(
                session=session,
                request=request,
                preview=preview,
                actor=cli_actor(),
                now=dt.datetime.now(dt.UTC),
            )
            record(
                state,
                session,
                "request.dry_run",
                target_kind=TARGET,
                target_id=request.id,
                details=preview.totals(),
            )
            _print(preview, listed_in=output)
            if output is not None:
                output.parent.mkdir(parents=True, exist_ok=True)
                with output.open("w", encoding="utf-8") as out:
                    write_json(preview, out)
                click.echo(f"wrote {output}")
            return preview.reference


def _print(preview: DryRun, *, listed_in: Path | None) -> None:
    table = Table("system", "collection", "row", "change", "field", "old", "new", "why")
    unshown: list[str] = []
    for item in preview.collections:
        why = item.legal_reason or item.reason
        for row in item.rows[:SHOWN_ROWS]:
            key = ", ".join(f"{k}={v}" for k, v in row.key.items())
            if row.action == "update":
                for change in row.fields:
                    table.add_row(
                        item.system_name,
                        item.collection,
                        key,
                        f"mask ({change.strategy})",
                        f"{change.path} ({change.category})" if change.category else change.path,
                        change.old,
                        change.new,
                        why,
                    )
            else:
                action = "delete row" if row.action == "delete" else "keep row"
                table.add_row(item.system_name, item.collection, key, action, "", "", "", why)
        hidden = sum(item.actions.values()) - min(len(item.rows), SHOWN_ROWS)
        if hidden > 0:
            unshown.append(f"{item.collection}: {hidden} more row(s) not shown")
    Console(width=200).print(table)
    for line in unshown:
        click.echo(line + (f" (all are in {listed_in})" if listed_in else " (--output lists all)"))
    totals = preview.totals()
    click.echo(
        f"{preview.reference}: dry run, nothing changed: {totals['delete']} row(s) would be "
        f"deleted, {totals['update']} masked, {totals['keep']} kept as they are"
    )
    for name in preview.by_person:
        click.echo(f"{name}: handled by a person (a manual task or a processor): not previewed")


@requests_group.command("dry-run")
@click.argument("key", metavar="REF")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the dry run as JSON to this file: every row (the console shows the "
    f"first {SHOWN_ROWS} of each collection).",
)
@pass_state
def dry_run_command(state: CliState, key: str, output: Path | None) -> None:
    """List what erasing the person would change in every system, changing nothing."""
    runtime = make_runtime(
        settings=state.settings(), engine=state.engine(), keyring=state.keyring()
    )
    try:
        with domain_errors():
            reference = show_dry_run(state, runtime, key, output)
    finally:
        runtime.close()
    click.echo(f"run it with `opendpo requests run {reference}`")
