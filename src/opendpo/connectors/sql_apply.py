"""Carrying out a batch of changes on SQL tables, inside the caller's one transaction.

Consecutive changes of the same shape (same table, action, key columns and fields set) go
together: rows named by one key column are deleted, or set to values they share (nulls, a
fixed string), as sets, one statement per SET_KEYS keys; the rest is one statement executed
with many parameter sets. An UPDATE only touches rows that do not hold the new values yet,
so running a batch again reports 0 changed. Values inside a JSON column
are set by reading the column (locked where the engine can), changing the named paths in
Python and writing the whole value back, only where it changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from opendpo.connectors.base import Change, ChangeAction, ConnectorError
from opendpo.connectors.sql_prepare import Prepared, Preparer, Shape
from opendpo.connectors.sql_types import (
    among,
    comparable,
    decode_json,
    encode_json,
    set_path,
    values_per_statement,
)

# Rows read per SELECT … FOR UPDATE when changing values inside JSON columns.
_READ_CHUNK = 500
# Keys per statement where rows are named as a set (on PostgreSQL one array parameter).
SET_KEYS = 5_000


def _where(table: Table, shape: Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        comparable(table.c[name]) == bindparam(f"opendpo_key_{i}")
        for i, name in enumerate(shape.keys)
    ]
    conditions += [table.c[name].is_(None) for name in shape.null_keys]
    return conditions


def _key_params(prepared: Prepared) -> dict[str, Any]:
    return {f"opendpo_key_{i}": value for i, value in enumerate(prepared.key)}


def _differs(column: ColumnElement[Any], value: BindParameter[Any], dialect: str) -> Any:
    """column ≠ value, NULL-safe, and exact: MySQL's usual collations find 'JANE' = 'jane '."""
    if dialect in ("mysql", "mariadb") and isinstance(column.type, sqltypes.String):
        return cast(column, mysql.BINARY()).is_distinct_from(cast(value, mysql.BINARY()))
    return column.is_distinct_from(value)


def _by_set(shape: Shape) -> bool:
    """Whether rows of this shape can be named as a set: by one key column's values."""
    return len(shape.keys) == 1


def _in_set(
    connection: Connection,
    table: Table,
    shape: Shape,
    statement: Any,
    run: Sequence[Prepared],
    given: Mapping[str, Any] | None = None,
) -> int:
    """`statement` (its WHERE still to come, `given` its other parameters) run for the run's
    rows, SET_KEYS keys at a time: one statement each, where row by row a million deletions
    are a million."""
    arrays = connection.dialect.name == "postgresql"
    statement = statement.where(
        among(comparable(table.c[shape.keys[0]]), "opendpo_keys", arrays=arrays),
        *(table.c[name].is_(None) for name in shape.null_keys),
    )
    keys = list(dict.fromkeys(p.key[0] for p in run))
    size = values_per_statement(connection, SET_KEYS)
    return sum(
        connection.execute(
            statement, {**(given or {}), "opendpo_keys": keys[start : start + size]}
        ).rowcount
        for start in range(0, len(keys), size)
    )


def _delete(connection: Connection, table: Table, run: Sequence[Prepared]) -> int:
    shape = run[0].shape
    if _by_set(shape):
        return _in_set(connection, table, shape, delete(table), run)
    statement = delete(table).where(*_where(table, shape))
    return connection.execute(statement, [_key_params(p) for p in run]).rowcount


def _update_flat(connection: Connection, table: Table, run: Sequence[Prepared]) -> int:
    shape = run[0].shape
    dialect = connection.dialect.name
    values: dict[str, BindParameter[Any]] = {
        name: bindparam(f"opendpo_value_{i}") for i, name in enumerate(shape.flat)
    }
    changing = (
        update(table)
        .where(or_(*(_differs(table.c[name], param, dialect) for name, param in values.items())))
        .values({table.c[name]: param for name, param in values.items()})
    )
    count = 0
    singles: list[Prepared] = []
    # Rows set to the same values (nulls, a fixed string) go as sets; the others (hashes,
    # random strings) one parameter set each, in one executemany.
    for flat, same in _alike(run).items():
        if len(same) > 1 and _by_set(shape):
            given = {f"opendpo_value_{i}": v for i, v in enumerate(flat)}
            count += _in_set(connection, table, shape, changing, same, given)
        else:
            singles.extend(same)
    if singles:
        parameters = []
        for prepared in singles:
            params = _key_params(prepared)
            params.update({f"opendpo_value_{i}": v for i, v in enumerate(prepared.flat)})
            parameters.append(params)
        statement = changing.where(*_where(table, shape))
        count += connection.execute(statement, parameters).rowcount
    return count


def _alike(run: Sequence[Prepared]) -> dict[tuple[Any, ...], list[Prepared]]:
    """The run's changes by the values they set (each alone where a value cannot be hashed)."""
    groups: dict[tuple[Any, ...], list[Prepared]] = {}
    for number, prepared in enumerate(run):
        try:
            groups.setdefault(prepared.flat, []).append(prepared)
        except TypeError:  # unhashable: a group of its own
            groups[(_Unique(number),)] = [prepared]
    return groups


@dataclass(frozen=True)
class _Unique:
    number: int


def _current(
    connection: Connection, table: Table, run: Sequence[Prepared]
) -> dict[tuple[Any, ...], Sequence[Any]]:
    """The rows the run names, keyed by their key values, locked until the transaction ends."""
    shape = run[0].shape
    wanted = [*shape.keys, *shape.flat, *shape.documents]
    found: dict[tuple[Any, ...], Sequence[Any]] = {}
    nulls = [table.c[name].is_(None) for name in shape.null_keys]
    for start in range(0, len(run), _READ_CHUNK):
        chunk = run[start : start + _READ_CHUNK]
        conditions: list[ColumnElement[bool]] = list(nulls)
        if len(shape.keys) == 1:
            conditions.append(comparable(table.c[shape.keys[0]]).in_([p.key[0] for p in chunk]))
        elif shape.keys:
            conditions.append(
                or_(
                    *(
                        and_(
                            *(
                                comparable(table.c[k]) == v
                                for k, v in zip(shape.keys, p.key, strict=True)
                            )
                        )
                        for p in chunk
                    )
                )
            )
        statement = select(*(table.c[name] for name in wanted)).where(*conditions)
        statement = statement.with_for_update()
        for record in connection.execute(statement):
            found.setdefault(tuple(record[: len(shape.keys)]), record[len(shape.keys) :])
    return found


def _update_documents(connection: Connection, table: Table, run: Sequence[Prepared]) -> int:
    shape = run[0].shape
    current = _current(connection, table, run)
    parameters = []
    for prepared in run:
        row = current.get(prepared.key)
        if row is None:
            continue  # gone already: nothing to change
        old_flat = row[: len(shape.flat)]
        old_documents = row[len(shape.flat) :]
        params = _key_params(prepared)
        changed = any(a != b for a, b in zip(old_flat, prepared.flat, strict=True))
        params.update({f"opendpo_value_{i}": v for i, v in enumerate(prepared.flat)})
        for i, (name, old) in enumerate(zip(shape.documents, old_documents, strict=True)):
            document = _changed_document(table, name, decode_json(old), prepared.paths[name])
            changed = changed or document != decode_json(old)
            params[f"opendpo_document_{i}"] = encode_json(document, table.c[name].type)
        if changed:
            parameters.append(params)
    if not parameters:
        return 0
    assignments: dict[Any, Any] = {
        table.c[name]: bindparam(f"opendpo_value_{i}") for i, name in enumerate(shape.flat)
    }
    assignments.update(
        {
            table.c[name]: bindparam(f"opendpo_document_{i}")
            for i, name in enumerate(shape.documents)
        }
    )
    statement = update(table).where(*_where(table, shape)).values(assignments)
    return connection.execute(statement, parameters).rowcount


def _changed_document(
    table: Table, name: str, document: Any, paths: Sequence[tuple[tuple[str, ...], Any]]
) -> Any:
    for parts, value in paths:
        if not parts:
            document = value
            continue
        if document is None:
            document = {}
        if not isinstance(document, dict):
            raise ValueError(f"column '{table.name}.{name}' does not hold a JSON object")
        document = _copy(document)
        try:
            set_path(document, parts, value)
        except ValueError:
            raise ValueError(
                f"column '{table.name}.{name}': '{'.'.join(parts)}' is inside a value that "
                "is not a JSON object"
            ) from None
    return document


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in document.items()}


def apply_changes(
    system: str,
    connection: Connection,
    changes: Sequence[Change],
    tables: Mapping[str, Table],
) -> dict[str, int]:
    """Rows changed per collection key; the caller commits, or rolls back on any error."""
    changed = {change.collection.key: 0 for change in changes}
    preparer = Preparer(system, connection.dialect.name, tables)
    prepared = [
        (p, tables[change.collection.name])
        for change in changes
        if (p := preparer.prepare(change)) is not None
    ]
    # Only consecutive changes are grouped: the engine's order (children first) is kept.
    for shape, group in itertools.groupby(prepared, key=lambda item: item[0].shape):
        items = list(group)
        table = items[0][1]
        run = [p for p, _ in items]
        if shape.action is ChangeAction.DELETE:
            count = _delete(connection, table, run)
        elif shape.documents:
            try:
                count = _update_documents(connection, table, run)
            except ValueError as exc:
                raise ConnectorError(system, str(exc), retryable=False) from None
        elif shape.flat:
            count = _update_flat(connection, table, run)
        else:
            count = 0
        changed[shape.collection] += count
    return changed
