"""`opendpo requests dry-run REF`: what erasing the person would change, and nothing changed.

Shared with `requests submit --kind erasure --dry-run`, which logs the request and previews it
instead of running it. The request is left as it was, ready for `opendpo requests run`; the
preview is a line on its timeline and in the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from opendpo.cli.operator import cli_actor, domain_errors, record
from opendpo.cli.requests import TARGET, requests_group
from opendpo.cli.state import CliState, pass_state
from opendpo.execution.dry_run import DryRun, as_json, dry_run, record_dry_run
from opendpo.execution.runtime import Runtime, make_runtime
from opendpo.rights.handling import get_request

__all__ = ["dry_run_command", "show_dry_run"]


def show_dry_run(state: CliState, runtime: Runtime, key: str, output: Path | None) -> DryRun:
    """Preview the erasure, note it on the request, print it (and write it to `output`)."""
    with state.session() as session:
        request = get_request(session=session, key=key)
        preview = dry_run(runtime=runtime, session=session, request=request)
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
    _print(preview)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(
            json.dumps(as_json(preview), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        click.echo(f"wrote {output}")
    return preview


def _print(preview: DryRun) -> None:
    table = Table("system", "collection", "row", "change", "field", "old", "new", "why")
    for item in preview.collections:
        why = item.legal_reason or item.reason
        if not item.rows:
            continue
        for row in item.rows:
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
    Console(width=200).print(table)
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
    help="Also write the dry run as JSON to this file.",
)
@pass_state
def dry_run_command(state: CliState, key: str, output: Path | None) -> None:
    """List what erasing the person would change in every system, changing nothing."""
    runtime = make_runtime(
        settings=state.settings(), engine=state.engine(), keyring=state.keyring()
    )
    try:
        with domain_errors():
            preview = show_dry_run(state, runtime, key, output)
    finally:
        runtime.close()
    click.echo(f"run it with `opendpo requests run {preview.reference}`")
