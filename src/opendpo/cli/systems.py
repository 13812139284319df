"""`opendpo systems`: the company's systems that requests run across, and their connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from opendpo.cli.discover import discover_command
from opendpo.cli.operator import cli_actor, domain_errors, record
from opendpo.cli.state import CliState, pass_state
from opendpo.connectors.base import ConnectorError
from opendpo.errors import InvalidValue, NoPolicyApplied
from opendpo.execution.records import ConnectedSystem
from opendpo.execution.systems import ConnectorPool, binding, bindings, save_connection
from opendpo.policy.dataset_file import read_dataset_file
from opendpo.policy.errors import PolicyInvalid
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import current_version


@click.group("systems")
def systems_group() -> None:
    """The systems that hold personal data: list, connect, test and discover them."""


def _policy(session: Any) -> PolicyDocument:
    version = current_version(session=session)
    if version is None:
        raise NoPolicyApplied()
    return version.policy()


@systems_group.command("list")
@pass_state
def list_command(state: CliState) -> None:
    """Every system, how it is reached, and the datasets it holds (no secrets shown)."""
    with domain_errors(), state.session() as session:
        found = bindings(session=session, policy=_policy(session))
        table = Table("system", "name", "reached by", "connection from", "datasets")
        for item in found:
            kind = str(item.config.type)  # type: ignore[attr-defined]
            table.add_row(
                item.key,
                item.name,
                kind if item.automatic else f"{kind} (a person)",
                {"store": "systems add", "policy": "the policy", "none": "none: a task"}[
                    item.source
                ],
                ", ".join(d.fides_key for d in item.datasets) or "-",
            )
    Console(width=120).print(table)


def _read_datasets(path: Path | None, system: str, policy: PolicyDocument) -> list[dict[str, Any]]:
    if path is None:
        return []
    try:
        read = read_dataset_file(path, system=system, policy=policy)
    except PolicyInvalid as exc:
        raise click.ClickException(f"not saved: the dataset has problems:\n{exc}") from None
    for warning in read.warnings:
        click.echo(str(warning), err=True)
    return read.datasets


@systems_group.command("add")
@click.argument("name")
@click.option(
    "--type",
    "kind",
    default="sql",
    show_default=True,
    type=click.Choice(["sql", "redis", "http", "email", "manual"]),
)
@click.option("--url", help="Connection URL (sql, redis) or base URL (http); kept encrypted.")
@click.option(
    "--dataset",
    "dataset_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="fideslang dataset YAML the system holds.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The whole connection block as YAML (http, email, manual).",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Connect and prove access before saving.",
)
@pass_state
def add_command(
    state: CliState,
    name: str,
    kind: str,
    url: str | None,
    dataset_file: Path | None,
    config_file: Path | None,
    check: bool,
) -> None:
    """Connect the system NAME (or replace its connection); secrets are stored encrypted."""
    config: dict[str, Any] = {"type": kind}
    if config_file is not None:
        try:
            loaded = YAML(typ="safe").load(config_file.read_text(encoding="utf-8"))
        except (OSError, YAMLError) as exc:
            raise click.ClickException(f"{config_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.ClickException(f"{config_file}: expected a mapping")
        config = {"type": kind, **loaded}
        spec_file = config.get("spec_file")
        if isinstance(spec_file, str) and not Path(spec_file).is_absolute():
            # Relative to the file that names it, wherever the command is run from.
            config["spec_file"] = str((config_file.parent / spec_file).resolve())
    if url is not None:
        config["base_url" if config["type"] == "http" else "url"] = url
    with domain_errors(), state.session() as session:
        datasets = _read_datasets(dataset_file, name, _policy(session))
        save_connection(
            session=session,
            key=name,
            config=config,
            datasets=datasets,
            added_by=cli_actor().id or "",
        )
        session.flush()
        found = binding(session=session, policy=_policy(session), key=name)
        if check and found.automatic:
            pool = ConnectorPool(_environ())
            try:
                described = pool.get(found).check()
            except ConnectorError as exc:
                raise click.ClickException(f"not saved: {exc.message}") from None
            finally:
                pool.close()
            click.echo(f"{name}: {described}")
        record(
            state,
            session,
            "system.connect",
            target_kind="system",
            target_id=name,
            details={"type": config["type"], "datasets": [d.get("fides_key") for d in datasets]},
        )
    click.echo(
        f"{name}: connection saved (encrypted); datasets: "
        f"{', '.join(d.fides_key for d in found.datasets) or 'none'}"
    )


@systems_group.command("test")
@click.argument("name")
@pass_state
def test_command(state: CliState, name: str) -> None:
    """Connect to NAME and check every collection of its datasets is there."""
    with domain_errors(), state.session() as session:
        found = binding(session=session, policy=_policy(session), key=name)
    if not found.automatic:
        raise click.ClickException(f"{name} is worked by a person: there is nothing to connect to")
    pool = ConnectorPool(_environ())
    try:
        described = pool.get(found).check()
    except (ConnectorError, InvalidValue) as exc:
        raise click.ClickException(exc.message) from None
    finally:
        pool.close()
    click.echo(f"{name}: ok — {described}")


@systems_group.command("remove")
@click.argument("name")
@pass_state
def remove_command(state: CliState, name: str) -> None:
    """Forget the connection saved for NAME (the policy's own block, if any, applies again)."""
    with domain_errors(), state.session() as session:
        row = session.get(ConnectedSystem, name)
        if row is None:
            raise click.ClickException(f"no connection was saved for '{name}'")
        session.delete(row)
        record(state, session, "system.disconnect", target_kind="system", target_id=name)
    click.echo(f"{name}: saved connection removed")


systems_group.add_command(discover_command)


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
