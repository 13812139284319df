"""`opendpo policy`: check, diff and apply the policy held as code."""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Column, Table

from opendpo.cli.operator import cli_actor, record
from opendpo.cli.state import CliState, pass_state
from opendpo.consent.renewal import mark_renewals
from opendpo.policy.diff import PolicyDiff
from opendpo.policy.errors import PolicyInvalid
from opendpo.policy.loader import LoadedPolicy, load_policy
from opendpo.policy.versions import (
    apply_policy,
    current_version,
    diff_against_current,
    list_versions,
)

PATH = click.argument("path", type=click.Path(path_type=Path))


@click.group()
def policy() -> None:
    """The privacy policy as code: check it, see what would change, apply it."""


def load_or_exit(path: Path) -> LoadedPolicy:
    """The policy at `path`, or every located error on stderr and exit code 1."""
    try:
        loaded = load_policy(path)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        count = len(exc.problems)
        click.echo(f"{count} error{'s' if count != 1 else ''} in {path}", err=True)
        raise SystemExit(1) from None
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    return loaded


@policy.command("check")
@PATH
def check_command(path: Path) -> None:
    """Validate the policy at PATH (a YAML file or a folder of them).

    Errors are printed as FILE:LINE:COLUMN: MESSAGE and the exit code is 1.
    """
    document = load_or_exit(path).document
    click.echo(
        f"{path}: OK ({len(document.purposes)} purposes, {len(document.recipients)} recipients, "
        f"{len(document.systems)} systems, {len(document.dataset)} datasets, "
        f"notice version {document.notice.version})"
    )


@policy.command("diff")
@PATH
@pass_state
def diff_command(state: CliState, path: Path) -> None:
    """Show what applying PATH would change in the store's current policy."""
    document = load_or_exit(path).document
    with state.session() as session:
        diff = diff_against_current(session=session, document=document)
    if diff.empty:
        click.echo("no changes: the store already holds this policy")
        return
    _print_diff(diff)


@policy.command("apply")
@PATH
@click.option("--by", "applied_by", default=None, help="Who is applying (default: OS user).")
@pass_state
def apply_command(state: CliState, path: Path, applied_by: str | None) -> None:
    """Validate PATH and store it as a new policy version (nothing happens if unchanged)."""
    document = load_or_exit(path).document
    renewals: dict[str, int] = {}
    with state.session() as session:
        before = current_version(session=session)
        previous = before.policy() if before is not None else None
        result = apply_policy(
            session=session,
            document=document,
            source=str(path),
            applied_by=applied_by or getpass.getuser(),
        )
        if result.created:
            record(
                state,
                session,
                "policy.applied",
                target_kind="policy_version",
                target_id=str(result.version.number),
                details={"digest": result.version.digest, "source": str(path)},
            )
            # In the same transaction: a new wording is never in force without the marks.
            renewals = mark_renewals(
                session=session,
                keyring=state.keyring(),
                previous=previous,
                current=document,
                version=result.version.number,
                actor=cli_actor(),
            )
    if result.created:
        _print_diff(result.diff)
        click.echo(
            f"applied {path} as policy version {result.version.number} "
            f"(notice {result.version.notice_version})"
        )
        for purpose, count in renewals.items():
            click.echo(f"consent to '{purpose}' changed materially: {count} to be asked again")
    else:
        click.echo(f"unchanged: policy version {result.version.number} already matches {path}")


@policy.command("versions")
@pass_state
def versions_command(state: CliState) -> None:
    """List the applied policy versions, oldest first."""
    with state.session() as session:
        versions = list_versions(session=session)
    # Folded, not truncated: a cut-off timestamp or path is worse than a wrapped one.
    headers = ("version", "notice", "applied at", "by", "source", "digest")
    table = Table(*(Column(header, overflow="fold") for header in headers))
    for version in versions:
        table.add_row(
            str(version.number),
            version.notice_version,
            version.applied_at.isoformat(timespec="seconds"),
            version.applied_by,
            version.source,
            version.digest[:12],
        )
    Console().print(table)


def _print_diff(diff: PolicyDiff) -> None:
    table = Table("change", "section", "key", "fields")
    styles = {"added": "green", "removed": "red", "changed": "yellow"}
    for change in diff.changes:
        table.add_row(
            f"[{styles[change.kind]}]{change.kind}[/]",
            change.section,
            change.key,
            ", ".join(change.fields),
        )
    Console().print(table)
