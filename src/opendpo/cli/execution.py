"""`opendpo requests submit|run|steps|notices|answer`: run a request across the connected systems.

`submit --wait` and `run` work the steps in this process (alongside any workers: a step is
claimed by one of them at a time) and show progress; without `--wait` the steps are queued
for `opendpo worker` processes or the server's embedded worker.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from opendpo.cli import request_notices  # noqa: F401  (attaches `requests notices`)
from opendpo.cli.dry_run import show_dry_run  # also attaches `requests dry-run`
from opendpo.cli.operator import cli_actor, domain_errors, record
from opendpo.cli.requests import TARGET, requests_group
from opendpo.cli.state import CliState, pass_state
from opendpo.errors import InvalidValue
from opendpo.execution import driving, engine, person_steps
from opendpo.execution.files import read_blocks
from opendpo.execution.planning import EXECUTABLE
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.runtime import Runtime, make_runtime
from opendpo.execution.steps import StepState, StepStatus
from opendpo.mail.sender import Mailer
from opendpo.rights.handling import deliver, get_request
from opendpo.rights.intake import submit_request
from opendpo.rights.kinds import ObjectionGround
from opendpo.rights.records import Request
from opendpo.tasks.queue import StepQueue, make_huey

__all__ = ["requests_group"]

EXECUTABLE_KINDS = sorted(kind.value for kind in EXECUTABLE)


def _pair(value: str, option: str) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise click.BadParameter(f"write NAME=VALUE, not '{value}'", param_hint=option)
    return name.strip(), rest.strip()


def _runtime(state: CliState) -> Runtime:
    return make_runtime(settings=state.settings(), engine=state.engine(), keyring=state.keyring())


@requests_group.command("submit")
@click.option("--kind", required=True, type=click.Choice(EXECUTABLE_KINDS))
@click.option(
    "--identity",
    "identities",
    multiple=True,
    required=True,
    metavar="KIND=VALUE",
    help="email=…, phone=…, customer_id=…, cookie_id=…; repeat for several.",
)
@click.option(
    "--verified",
    is_flag=True,
    help="You vouch for every identity (no code is emailed); say how with --how.",
)
@click.option("--how", default=None, help="How the identities were confirmed (with --verified).")
@click.option(
    "--set",
    "corrections",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Rectification: a data category (user.job_title) or a field "
    "(crm_db.contacts.job_title) and its corrected value; repeat for several.",
)
@click.option(
    "--ground",
    type=click.Choice([g.value for g in ObjectionGround]),
    default=None,
    help="Objection: what the person objects to (direct_marketing is absolute; the others "
    "are run once staff have upheld them).",
)
@click.option("--wait", is_flag=True, help="Run the request here and now, showing progress.")
@click.option(
    "--dry-run",
    "dry_run",
    is_flag=True,
    help="Erasure, with --verified: log the request and list what it would change, changing "
    "nothing; `opendpo requests run` runs it afterwards.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="With --wait: the folder for the package (<request id>.zip) or the report; with "
    "--dry-run: the JSON file for the dry run.",
)
@pass_state
def submit_command(
    state: CliState,
    kind: str,
    identities: tuple[str, ...],
    verified: bool,
    how: str | None,
    corrections: tuple[str, ...],
    ground: str | None,
    wait: bool,
    dry_run: bool,
    output: Path | None,
) -> None:
    """Log a request from the command line and run it across the connected systems."""
    pairs = [_pair(v, "--identity") for v in identities]
    fixes = dict(_pair(v, "--set") for v in corrections)
    if dry_run and (kind != "erasure" or not verified or wait):
        raise click.BadParameter(
            "a dry run previews a --verified erasure, without --wait", param_hint="--dry-run"
        )
    if output is not None and not (wait or dry_run):
        raise click.BadParameter("--output needs --wait", param_hint="--output")
    if (ground is not None) != (kind == "objection"):
        raise click.BadParameter(
            "give --ground with --kind objection, and only then", param_hint="--ground"
        )
    details: dict[str, str] = {"corrections": json.dumps(fixes)} if fixes else {}
    if ground is not None:
        details["ground"] = ground
    actor = cli_actor()
    runtime = _runtime(state)
    with domain_errors():
        with state.session() as session:
            context = state.letter_context(session)
            request, letters = submit_request(
                session=session,
                keyring=state.keyring(),
                policy=context.policy,
                kind=kind,
                identities=pairs,
                details=details,
                channel="api",
                actor=actor,
                context=context,
                verified_evidence=(how or f"vouched for by {actor.id} at the command line")
                if verified
                else None,
            )
            ready: list[StepState] = []
            if verified and not dry_run:
                ready = engine.start(
                    session=session,
                    runtime=runtime,
                    request=request,
                    actor=actor,
                    inputs={"corrections": fixes} if fixes else None,
                )
            record(
                state,
                session,
                "request.create",
                target_kind=TARGET,
                target_id=request.id,
                details={"kind": kind, "channel": "cli"},
            )
            request_id, reference = request.id, request.reference
            ready_ids = [s.id for s in ready]
        with runtime.session_factory() as session:
            deliver(
                session=session,
                mailer=Mailer(state.settings()),
                request=session.get_one(Request, request_id),
                sent=letters,
                actor=actor,
            )
    click.echo(f"{reference} ({request_id}): {kind} request logged")
    if not verified:
        click.echo("a code was sent to each email identity; the request runs once verified")
        return
    if dry_run:
        with domain_errors():
            show_dry_run(state, runtime, request_id, output)
        click.echo(f"nothing was changed: `opendpo requests run {reference}` runs the erasure")
    elif wait:
        _drive(runtime, request_id, output)
    else:
        StepQueue(make_huey(state.settings()), lambda: runtime).hand_out(request_id, ready_ids)
        click.echo(
            "queued: `opendpo worker` (or `opendpo serve`) runs it; "
            f"`opendpo requests steps {reference}` shows progress"
        )
    runtime.close()


@requests_group.command("run")
@click.argument("key", metavar="REF")
@click.option("--retry-failed", is_flag=True, help="Give failed steps another go first.")
@click.option(
    "--set",
    "corrections",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Rectification: the corrected values (when the request is planned now).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the package or the report.",
)
@pass_state
def run_command(
    state: CliState,
    key: str,
    retry_failed: bool,
    corrections: tuple[str, ...],
    output: Path | None,
) -> None:
    """Run (or carry on with) a verified request here and now, showing progress."""
    fixes = dict(_pair(v, "--set") for v in corrections)
    runtime = _runtime(state)
    actor = cli_actor()
    with domain_errors():
        with state.session() as session:
            request = get_request(session=session, key=key)
            planned = session.scalar(
                select(RequestStep.id).where(RequestStep.request_id == request.id).limit(1)
            )
            if planned is None:
                engine.start(
                    session=session,
                    runtime=runtime,
                    request=request,
                    actor=actor,
                    inputs={"corrections": fixes} if fixes else None,
                )
            elif retry_failed:
                engine.retry_failed(session=session, request=request, actor=actor)
            record(state, session, "request.run", target_kind=TARGET, target_id=request.id)
            request_id = request.id
        _drive(runtime, request_id, output)
    runtime.close()


UNDECIDED = (StepStatus.PENDING, StepStatus.RUNNING)


def _drive(runtime: Runtime, request_id: str, output: Path | None) -> None:
    console = Console(stderr=True)
    with runtime.session_factory() as session:
        total = len(
            list(
                session.scalars(select(RequestStep.id).where(RequestStep.request_id == request_id))
            )
        )
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("running", total=total)

        def shown(step: RequestStep) -> None:
            # A step is named as it starts (a large export's package step takes a while) and
            # counted once it ended: a step put back for another attempt is not.
            progress.update(
                bar,
                advance=0 if step.status in UNDECIDED else 1,
                description=f"{step.phase} {step.dataset or step.system or ''}",
            )

        steps = driving.drive(runtime, request_id, on_step=shown)
    elapsed = time.perf_counter() - started
    _print_steps(steps)
    with runtime.session_factory() as session:
        request = session.get_one(Request, request_id)
        status = request.status
        files = list(
            session.scalars(
                select(StoredFile).where(
                    StoredFile.request_id == request_id, StoredFile.completed_at.is_not(None)
                )
            )
        )
    click.echo(f"{request.reference}: {status.replace('_', ' ')} in {elapsed:.2f} s")
    waiting = [s for s in steps if s.status == StepStatus.WAITING]
    failed = [s for s in steps if s.status == StepStatus.FAILED]
    if waiting:
        click.echo(f"{len(waiting)} step(s) wait on a person: `opendpo requests answer`")
    if failed:
        raise click.ClickException(f"{len(failed)} step(s) failed: see `opendpo requests show`")
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for stored in files:
            suffix = (
                ".zip"
                if stored.content_type == "application/zip"
                else (".json" if stored.content_type == "application/json" else ".html")
            )
            target = output / (
                request_id
                + (
                    ""
                    if stored.purpose.endswith("package")
                    else f"-{stored.purpose.replace('_', '-')}"
                )
                + suffix
            )
            with target.open("wb") as handle:
                for block in read_blocks(
                    session_factory=runtime.session_factory, file_id=stored.id
                ):
                    handle.write(block)
            click.echo(f"wrote {target}")


def _print_steps(steps: list[RequestStep]) -> None:
    table = Table("step", "phase", "system", "dataset", "status", "summary")
    for step in steps:
        summary: dict[str, Any] = {k: v for k, v in step.summary.items() if k != "attempt"}
        table.add_row(
            str(step.seq),
            step.phase,
            step.system or "",
            step.dataset or "",
            step.status,
            json.dumps(summary, default=str)[:70],
        )
    Console(stderr=True, width=120).print(table)


@requests_group.command("steps")
@click.argument("key", metavar="REF")
@pass_state
def steps_command(state: CliState, key: str) -> None:
    """The request's plan and where each step stands (counts only, no personal data)."""
    with domain_errors(), state.session() as session:
        request = get_request(session=session, key=key)
        steps = list(
            session.scalars(
                select(RequestStep)
                .where(RequestStep.request_id == request.id)
                .order_by(RequestStep.seq)
            )
        )
    if not steps:
        click.echo(f"{request.reference} has not been run: `opendpo requests run {key}`")
        return
    _print_steps(steps)


@requests_group.command("answer")
@click.argument("key", metavar="REF")
@click.argument("seq", type=int, metavar="STEP")
@click.option("--done", "outcome", flag_value="done", help="The work was done.")
@click.option(
    "--not-possible",
    "outcome",
    flag_value="not_possible",
    help="It could not be done (say why in --note).",
)
@click.option("--note", required=True, help="What was done, found or why not.")
@pass_state
def answer_command(state: CliState, key: str, seq: int, outcome: str | None, note: str) -> None:
    """Record the answer to a step waiting on a person (a manual task, a processor)."""
    if outcome is None:
        raise click.BadParameter("give --done or --not-possible", param_hint="--done")
    runtime = _runtime(state)
    with domain_errors():
        with state.session() as session:
            request = get_request(session=session, key=key)
            step = session.scalar(
                select(RequestStep).where(
                    RequestStep.request_id == request.id, RequestStep.seq == seq
                )
            )
            if step is None:
                raise InvalidValue("STEP", f"{request.reference} has no step {seq}")
            person_steps.answer(
                session=session,
                request=request,
                step=step,
                actor=cli_actor(),
                outcome=outcome,
                note=note,
            )
            record(
                state,
                session,
                "request.step_answer",
                target_kind=TARGET,
                target_id=request.id,
                details={"step": seq, "outcome": outcome},
            )
            request_id = request.id
        _drive(runtime, request_id, None)
    runtime.close()
