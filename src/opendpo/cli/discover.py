"""`opendpo systems discover`: draft a fideslang dataset from a live database, for review."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from opendpo.connectors.base import ConnectorError
from opendpo.connectors.discovery import DiscoveredDataset, DiscoveredField, discover
from opendpo.connectors.discovery_yaml import render_dataset
from opendpo.errors import InvalidValue

_OPTION_FOR = {"url": "URL", "dataset_key": "--dataset-key", "sample_rows": "--sample-rows"}


def _to_review(fields: tuple[DiscoveredField, ...]) -> int:
    """Fields marked "review:" in the draft: no category suggested, or a note."""
    count = 0
    for f in fields:
        count += _to_review(f.fields) if f.fields else int(not f.data_categories)
        count += int(bool(f.notes) and bool(f.data_categories or f.fields))
    return count


def _summary(found: DiscoveredDataset) -> Table:
    table = Table("table", "columns", "identities", "review", title=f"{found.key} ({found.server})")
    for collection in found.collections:
        identities = ", ".join(f"{name} ({kind})" for name, kind in collection.identities)
        review = _to_review(collection.fields) + len(collection.notes)
        table.add_row(
            collection.name, str(len(collection.fields)), identities or "-", str(review or "-")
        )
    return table


@click.command("discover")
@click.argument("url", metavar="URL")
@click.option(
    "--dataset-key",
    required=True,
    metavar="KEY",
    help="The dataset's fides_key in the draft (e.g. crm_db).",
)
@click.option(
    "--schema",
    "schema_name",
    metavar="SCHEMA",
    help="The schema to read (PostgreSQL; default: the connection's own).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the draft to FILE instead of printing it.",
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.option(
    "--sample-rows",
    type=click.IntRange(0, 10_000),
    default=50,
    show_default=True,
    metavar="N",
    help="Rows of each table read to suggest categories (0: names only).",
)
def discover_command(
    url: str,
    dataset_key: str,
    schema_name: str | None,
    output: Path | None,
    force: bool,
    sample_rows: int,
) -> None:
    """Draft a fideslang dataset from the database at URL, for review before use.

    URL is a database URL: postgresql://user@host/db, mysql://user@host/db (MariaDB too) or
    sqlite:///path/to/file.db. Every table and column is listed with primary keys, foreign
    keys as references, and suggested data categories and identities, each explained in a
    comment. Sampled values are only counted, never written out. A summary goes to stderr.
    """
    if output is not None and output.exists() and not force:
        raise click.ClickException(f"{output} exists: add --force to overwrite it")
    try:
        found = discover(
            url, dataset_key=dataset_key, schema_name=schema_name, sample_rows=sample_rows
        )
    except InvalidValue as exc:
        raise click.ClickException(
            f"{_OPTION_FOR.get(exc.field, exc.field)}: {exc.detail}"
        ) from None
    except ConnectorError as exc:
        raise click.ClickException(exc.message) from None
    text = render_dataset(found)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
    console = Console(stderr=True)
    console.print(_summary(found))
    columns = sum(len(c.fields) for c in found.collections)
    identities = len(found.identities)
    where = f" to {output}" if output is not None else ""
    console.print(
        f"{len(found.collections)} tables, {columns} columns, {identities} suggested "
        f"identities{where}: review every field before use."
    )
