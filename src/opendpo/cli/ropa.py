"""`opendpo ropa`: records of processing activities (UK GDPR Art 30)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from opendpo.cli.operator import record
from opendpo.cli.policy import load_or_exit
from opendpo.cli.state import CliState, pass_state
from opendpo.policy.ropa.build import build_records
from opendpo.policy.ropa.formats import FORMATS
from opendpo.policy.ropa.records import RecordsOfProcessing
from opendpo.policy.versions import current_version


@click.group()
def ropa() -> None:
    """Records of processing activities (Art 30(1)) from the current policy."""


@ropa.command("export")
@click.option(
    "--format",
    "format_name",
    type=click.Choice(list(FORMATS)),
    required=True,
    help="csv and xlsx for spreadsheets, html to read or print, json or jsonld (W3C DPV).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="File to write (default: standard output; xlsx needs a file or a pipe).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, path_type=Path),
    help="Build from this policy file or folder instead of the store's current policy.",
)
@pass_state
def export_command(
    state: CliState, format_name: str, output: Path | None, policy_path: Path | None
) -> None:
    """Export the records of processing activities.

    By default from the policy last applied to the store; with --policy from a policy
    file, without touching the store.
    """
    export_format = FORMATS[format_name]
    stdout = sys.stdout.buffer
    if output is None and export_format.binary and stdout.isatty():
        raise click.UsageError(
            f"refusing to write binary {format_name} to a terminal: use -o FILE or a pipe"
        )
    if policy_path:
        records = _records_from_file(policy_path)
    else:
        records = _records_from_store(state, format_name)
    if output is None:
        sys.stdout.flush()
        export_format.write(records, stdout)
        stdout.flush()
        return
    with output.open("wb") as out:
        export_format.write(records, out)
    click.echo(f"wrote {len(records.activities)} processing activities to {output}", err=True)


def _records_from_store(state: CliState, format_name: str) -> RecordsOfProcessing:
    with state.session() as session:
        version = current_version(session=session)
        if version is None:
            raise click.ClickException("no policy applied yet: run `opendpo policy apply PATH`")
        # Every export is on the audit log, from the console and from here alike.
        record(
            state,
            session,
            "ropa.exported",
            target_kind="policy_version",
            target_id=str(version.number),
            details={"format": format_name},
        )
        return build_records(version.policy(), policy_version=version.number, generated_at=_now())


def _records_from_file(path: Path) -> RecordsOfProcessing:
    return build_records(load_or_exit(path).document, generated_at=_now())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
