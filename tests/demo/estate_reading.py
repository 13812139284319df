"""Reading a built estate back, and what the policy's datasets say its tables must be."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fideslang.models import Dataset, DatasetField
from sqlalchemy import Connection, create_engine, func, inspect, select

from opendpo.demo.schema import dataset_metadata

Row = dict[str, Any]


@contextmanager
def connected(url: str) -> Iterator[Connection]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def read_table(url: str, table_key: str) -> list[Row]:
    """Every row of `dataset.table`, typed by the estate's own table definition, in a stable
    order (primary key, else every column)."""
    dataset, _, name = table_key.partition(".")
    table = dataset_metadata(dataset).tables[name]
    order = list(table.primary_key.columns) or list(table.columns)
    with connected(url) as connection:
        return [dict(row._mapping) for row in connection.execute(select(table).order_by(*order))]


def count_rows(url: str, table_key: str) -> int:
    dataset, _, name = table_key.partition(".")
    table = dataset_metadata(dataset).tables[name]
    with connected(url) as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@dataclass(frozen=True)
class ExpectedTable:
    """What one collection of a policy dataset demands of its table."""

    columns: frozenset[str]
    primary_key: frozenset[str]
    # (column, referred table, referred column), as the references name them
    foreign_keys: frozenset[tuple[str, str, str]]
    json_columns: frozenset[str]  # top-level fields with nested fields
    indexed: frozenset[str]  # identity and reference columns


# Foreign keys the policy keeps out of its references on purpose: both tables hold people,
# and reads following the key from one would reach others (a client's contacts through the
# client). The parent's erase_after names the child instead, so its rows are deleted first.
UNFOLLOWED: dict[tuple[str, str], set[tuple[str, str, str]]] = {
    ("billing_db", "customer_contacts"): {("customer_id", "customers", "id")},
}


def _erase_after(dataset: Dataset, collection: str) -> list[str]:
    found = next(c for c in dataset.collections if c.name == collection)
    meta = found.fides_meta
    return [str(key) for key in (meta.erase_after or [])] if meta is not None else []


def expected_tables(dataset: Dataset) -> dict[str, ExpectedTable]:
    expected = {}
    for collection in dataset.collections:
        fields: list[DatasetField] = list(collection.fields)
        unfollowed = UNFOLLOWED.get((dataset.fides_key, collection.name), set())
        for _, parent, _ in unfollowed:
            named = _erase_after(dataset, parent)
            assert f"{dataset.fides_key}.{collection.name}" in named, (parent, named)
        foreign_keys = set(unfollowed)
        indexed = {column for column, _, _ in unfollowed}
        for item in fields:
            meta = item.fides_meta
            if meta is None:
                continue
            if meta.identity and not meta.primary_key:
                indexed.add(item.name)
            for reference in meta.references or ():
                assert reference.dataset == dataset.fides_key, "references stay in a dataset"
                table, _, column = reference.field.partition(".")
                foreign_keys.add((item.name, table, column))
                indexed.add(item.name)
        expected[collection.name] = ExpectedTable(
            columns=frozenset(f.name for f in fields),
            primary_key=frozenset(
                f.name for f in fields if f.fides_meta is not None and f.fides_meta.primary_key
            ),
            foreign_keys=frozenset(foreign_keys),
            json_columns=frozenset(f.name for f in fields if f.fields),
            indexed=frozenset(indexed),
        )
    return expected


def datasets_by_key(datasets: list[Dataset]) -> Mapping[str, Dataset]:
    return {dataset.fides_key: dataset for dataset in datasets}


def reflect_tables(url: str, dataset: str) -> dict[str, ExpectedTable]:
    """What the database holds for a dataset's tables, in the terms of ExpectedTable (JSON
    columns left out: MariaDB reports them as LONGTEXT)."""
    names = set(dataset_metadata(dataset).tables)
    found = {}
    with connected(url) as connection:
        inspector = inspect(connection)
        for name in sorted(names & set(inspector.get_table_names())):
            foreign_keys = {
                (fk["constrained_columns"][0], fk["referred_table"], fk["referred_columns"][0])
                for fk in inspector.get_foreign_keys(name)
            }
            found[name] = ExpectedTable(
                columns=frozenset(c["name"] for c in inspector.get_columns(name)),
                primary_key=frozenset(
                    inspector.get_pk_constraint(name)["constrained_columns"] or ()
                ),
                foreign_keys=frozenset(foreign_keys),
                json_columns=frozenset(),
                indexed=frozenset(
                    str(index["column_names"][0]) for index in inspector.get_indexes(name)
                ),
            )
    return found


def assert_database_matches(url: str, datasets: list[Dataset]) -> None:
    """Every dataset's tables exist as the policy describes them, foreign keys and indexes
    included."""
    for dataset in datasets:
        reflected = reflect_tables(url, dataset.fides_key)
        expected = expected_tables(dataset)
        assert set(reflected) == set(expected)
        for name, want in expected.items():
            got = reflected[name]
            assert got.columns == want.columns, name
            assert got.primary_key == want.primary_key, name
            assert got.foreign_keys == want.foreign_keys, name
            assert want.indexed <= got.indexed, name
