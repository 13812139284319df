"""`opendpo demo estate`: Connect IB's systems as databases of generated people, connected.

`make demo` runs it after applying the policy, so that a newcomer can run an access or an
erasure request across CRM, billing, email platform and website straight away. A second run
reuses the estate already built (and connects the systems again); `--replace` rebuilds it.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from opendpo.cli.operator import cli_actor, domain_errors, record
from opendpo.cli.state import CliState, pass_state
from opendpo.connectors.base import ConnectorError
from opendpo.demo.connecting import estate_connections
from opendpo.demo.estate import EstateExists, EstateSummary, build_estate, default_estate_urls
from opendpo.demo.sample import people_to_try
from opendpo.demo.schema import DATASETS, dataset_metadata
from opendpo.errors import NoPolicyApplied
from opendpo.execution.systems import ConnectorPool, binding, save_connection
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import current_version

DEFAULT_PEOPLE = 5000
DEFAULT_SEED = 1
PEOPLE_SHOWN = 4


@click.group("demo")
def demo_group() -> None:
    """The demo: Connect IB's company estate, full of generated people, to run requests on."""


@demo_group.command("estate")
@click.option(
    "--people",
    type=click.IntRange(0, 10_000_000),
    default=DEFAULT_PEOPLE,
    show_default=True,
    help="Generated people (Jane Example comes on top).",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="The same seed, the same people.",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var"),
    show_default=True,
    help="Where the SQLite files go: DIR/estate/crm.db, billing.db, email_platform.db, website.db.",
)
@click.option(
    "--url",
    "urls",
    multiple=True,
    metavar="DATASET=URL",
    help="Build a dataset (crm_db, billing_db, email_platform, website_db) in this database "
    "instead (PostgreSQL, MariaDB); repeat for several.",
)
@click.option("--replace", is_flag=True, help="Drop the estate's tables and build them afresh.")
@click.option(
    "--connect/--no-connect",
    default=True,
    show_default=True,
    help="Connect the policy's systems to the estate (the policy must be applied first).",
)
@pass_state
def estate_command(
    state: CliState,
    people: int,
    seed: int,
    folder: Path,
    urls: tuple[str, ...],
    replace: bool,
    connect: bool,
) -> None:
    """Build the demo estate (or reuse the one built before) and connect the systems to it."""
    targets = default_estate_urls(folder.resolve())
    for value in urls:
        dataset, sep, url = value.partition("=")
        if not sep or dataset.strip() not in DATASETS or not url.strip():
            raise click.BadParameter(
                f"write DATASET=URL with DATASET one of {', '.join(DATASETS)}, not '{value}'",
                param_hint="--url",
            )
        targets[dataset.strip()] = url.strip()
    if connect:
        # Before building: a store without a policy would leave an estate nothing reaches.
        with domain_errors(), state.session() as session:
            _policy(session)
    with domain_errors():
        summary = _build(targets, people=people, seed=seed, replace=replace)
    if summary is None:
        click.echo(f"the demo estate is already built: reusing it ({_where(targets)})")
    else:
        click.echo(
            f"built the demo estate: {summary.people + 1} people, {summary.total_rows} rows "
            f"({_where(targets)})"
        )
    if connect:
        _connect(state, targets)
        _suggest(targets)


def _build(urls: dict[str, str], *, people: int, seed: int, replace: bool) -> EstateSummary | None:
    """The build's summary, or None when a complete estate is already there to reuse."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("generating people"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("people", total=people)

        def shown(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        try:
            return build_estate(urls, people=people, seed=seed, progress=shown, replace=replace)
        except EstateExists as exc:
            complete = all(
                set(exc.existing.get(dataset, [])) == set(dataset_metadata(dataset).tables)
                for dataset in urls
            )
            if not complete:
                raise click.ClickException(
                    f"{exc.message} It is only partly there: run again with --replace."
                ) from None
            return None


def _policy(session: Session) -> PolicyDocument:
    version = current_version(session=session)
    if version is None:
        raise NoPolicyApplied()
    return version.policy()


def _connect(state: CliState, urls: dict[str, str]) -> None:
    pool = ConnectorPool(dict(os.environ))
    try:
        with domain_errors(), state.session() as session:
            policy = _policy(session)
            connections, left_out = estate_connections(policy=policy, urls=urls)
            if not connections:
                raise click.ClickException(
                    "no system of the policy holds the estate's datasets "
                    f"({', '.join(urls)}): apply policies/connect-ib.yaml"
                )
            for connection in connections:
                save_connection(
                    session=session,
                    key=connection.system,
                    config=connection.config,
                    datasets=[],
                    added_by=cli_actor().id or "",
                )
                session.flush()
                found = binding(session=session, policy=policy, key=connection.system)
                try:
                    described = pool.get(found).check()
                except ConnectorError as exc:
                    raise click.ClickException(
                        f"{connection.system}: not connected: {exc.message}"
                    ) from None
                record(
                    state,
                    session,
                    "system.connect",
                    target_kind="system",
                    target_id=connection.system,
                    details={"type": "sql", "datasets": list(connection.datasets)},
                )
                click.echo(f"{connection.system}: connected ({described})")
            for reason in left_out:
                click.echo(f"not connected: {reason}")
    finally:
        pool.close()


def _suggest(urls: dict[str, str]) -> None:
    people = people_to_try(urls, count=PEOPLE_SHOWN)
    if not people:
        return
    click.echo("people to try:")
    for person in people:
        click.echo(f"  {person.email}  {person.name} (in {', '.join(person.datasets)})")
    email = people[0].email
    click.echo(
        "for example:\n"
        f"  opendpo requests submit --kind access --identity email={email} --verified "
        "--wait --output out/\n"
        f"  opendpo requests submit --kind erasure --identity email={email} --verified "
        "--wait --output out/"
    )


def _where(urls: dict[str, str]) -> str:
    shown = {make_url(url).render_as_string(hide_password=True) for url in urls.values()}
    files = {url.rsplit("/", 1)[0] for url in shown if url.startswith("sqlite:///")}
    if len(files) == 1 and len(shown) == len(urls):
        return f"SQLite files in {files.pop().removeprefix('sqlite:///')}"
    return ", ".join(sorted(shown))
