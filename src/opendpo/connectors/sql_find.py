"""Finding rows: values fitted to their columns, fields ORed, results streamed in bounded memory.

Email addresses are compared without regard to case: the same person is `Jane@Example.com` in
one system and `jane@example.com` in another, and a request must find both. (On PostgreSQL an
index on lower(email) keeps such lookups fast; without one they scan the table.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, Table, func, or_, select, type_coerce
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import ColumnElement

from opendpo.connectors.base import CollectionSpec, ConnectorError, Row, get_path
from opendpo.connectors.sql_types import (
    UNFIT,
    among,
    comparable,
    decode_json,
    fit,
    json_path,
    json_path_type,
)

# Rows fetched per round trip while streaming: a person's million rows stay a thousand at a time.
FETCH_ROWS = 1000
# Identity kinds compared without regard to case.
_FOLDED_IDENTITIES = frozenset({"email"})


@dataclass(frozen=True)
class Lookup:
    """One field of a `find`: the expression compared, and the values that can match it."""

    path: str
    expression: ColumnElement[Any]
    values: list[Any]
    folded: bool  # compared lower-cased
    members: frozenset[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", frozenset(self.values))

    def matches(self, row: Row) -> bool:
        value = get_path(row, self.path)
        if self.folded and isinstance(value, str):
            value = value.lower()
        try:
            return value in self.members
        except TypeError:  # unhashable (a JSON object): never among the values looked up
            return False


def _spec(collection: CollectionSpec, path: str) -> tuple[str | None, str | None]:
    """(fides_meta.data_type, identity kind) the dataset gives the field, if it names it."""
    try:
        found = collection.field(path)
    except KeyError:
        return None, None
    return found.data_type, found.identity


def lookups(
    system: str,
    table: Table,
    collection: CollectionSpec,
    where: Mapping[str, Sequence[Any]],
    *,
    dialect: str,
) -> list[Lookup]:
    """One Lookup per field of `where` with any value that fits, fewest values first."""
    found = []
    for path, values in where.items():
        parts = path.split(".")
        if parts[0] not in table.c:
            raise ConnectorError(
                system,
                f"collection '{collection.name}': no column '{parts[0]}' to look up",
                retryable=False,
            )
        column = table.c[parts[0]]
        data_type, identity = _spec(collection, path)
        if len(parts) == 1:
            expression, type_ = comparable(column), column.type
        else:
            expression = json_path(column, parts[1:], data_type, dialect=dialect)
            type_ = json_path_type(data_type)
        folded = identity in _FOLDED_IDENTITIES and isinstance(type_, sqltypes.String)
        fitting: dict[Any, None] = {}
        for value in values:
            fitted = fit(value, type_, dialect=dialect)
            if fitted is not UNFIT:
                fitting.setdefault(fitted.lower() if folded else fitted, None)
        if fitting:
            if folded:
                expression = func.lower(expression)
            found.append(Lookup(path, expression, list(fitting), folded))
    return sorted(found, key=lambda lookup: len(lookup.values))


def _json_fields(collection: CollectionSpec) -> frozenset[str]:
    """Top-level fields holding JSON: parents of nested fields, or declared as objects."""
    found = {f.path.split(".", 1)[0] for f in collection.fields if "." in f.path}
    found |= {f.path for f in collection.fields if (f.data_type or "").startswith("object")}
    return frozenset(found)


def stream_rows(
    connection: Connection,
    table: Table,
    collection: CollectionSpec,
    found: Sequence[Lookup],
    *,
    values_per_statement: int,
    statements: dict[Any, tuple[Select[Any], Select[Any]]],
) -> Iterator[Row]:
    """Rows matching any lookup, each once, fetched FETCH_ROWS at a time.

    `statements` keeps, per collection and shape of look-up, the statement built the first
    time (its values are bound at execution): a person's request repeats the same shapes,
    and building and keying a statement costs as much as the database's answer.
    """
    names = collection.top_level
    documents = _json_fields(collection)
    base: Select[Any] = select(*(table.c[name] for name in names))

    def row_of(record: Sequence[Any]) -> Row:
        row = dict(zip(names, record, strict=True))
        for name in documents:
            row[name] = decode_json(row[name])
        return row

    def rows(paged: Select[Any], streamed: Select[Any], params: dict[str, Any]) -> Iterator[Row]:
        # Most lookups match a handful of rows: one plain round trip reads them all. A
        # server-side cursor (declare, fetch, close) is opened only when the first page
        # shows more, and then reads from the start; memory holds one page either way.
        first = connection.execute(paged, params).all()
        if len(first) <= FETCH_ROWS:
            for record in first:
                yield row_of(record)
            return
        del first
        if connection.dialect.name == "postgresql":
            # Every row is read: plan for all of them, not for the first tenth as a cursor
            # otherwise does (an index probe per value where one bitmap scan serves, three
            # times slower). SET LOCAL ends with the transaction.
            connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
        for record in connection.execute(streamed, params):
            yield row_of(record)

    def pair(statement: Select[Any]) -> tuple[Select[Any], Select[Any]]:
        return (
            statement.limit(FETCH_ROWS + 1),
            statement.execution_options(stream_results=True, yield_per=FETCH_ROWS),
        )

    arrays = connection.dialect.name == "postgresql"

    def held(lookups: Sequence[Lookup]) -> tuple[Select[Any], Select[Any]]:
        shape = (collection.key, tuple((f.path, f.folded) for f in lookups))
        statement = statements.get(shape)
        if statement is None:
            statement = statements[shape] = pair(
                base.where(or_(*(_among(f, f"v{i}", arrays) for i, f in enumerate(lookups))))
            )
        return statement

    if sum(len(lookup.values) for lookup in found) <= values_per_statement:
        yield from rows(*held(found), {f"v{i}": f.values for i, f in enumerate(found)})
        return
    # Too many values for one statement: field by field, in chunks. The values of one field
    # are distinct, so its chunks match disjoint rows; a row an earlier field matched already
    # is recognised by that field's value and skipped.
    for index, lookup in enumerate(found):
        earlier = found[:index]
        for start in range(0, len(lookup.values), values_per_statement):
            chunk = lookup.values[start : start + values_per_statement]
            for row in rows(*held([lookup]), {"v0": chunk}):
                if not any(before.matches(row) for before in earlier):
                    yield row


def _among(lookup: Lookup, name: str, arrays: bool) -> ColumnElement[bool]:
    expression = lookup.expression
    if lookup.folded:
        expression = type_coerce(expression, sqltypes.String())
    return among(expression, name, arrays=arrays)
