"""A change fitted to its table: the key columns that name its row, the values it sets as the
columns hold them, and its shape (changes of one shape go to the database together).

A large erasure prepares a million changes of a handful of forms (one collection, action,
set of key names and fields set). What a form needs from the table (which columns, how each
takes a value, which are JSON documents) is worked out the first time it is seen; each
change then only has its own values fitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement

from opendpo.connectors.base import Change, ChangeAction, CollectionSpec, ConnectorError
from opendpo.connectors.sql_types import UNFIT, fitter, is_json, storer


# A tuple, not a frozen dataclass: compared with the next change's to group them.
class Shape(NamedTuple):
    collection: str
    action: ChangeAction
    keys: tuple[str, ...]  # key columns compared with a value
    null_keys: tuple[str, ...]  # key columns that must be NULL
    flat: tuple[str, ...]  # columns set to a value
    documents: tuple[str, ...]  # JSON columns with values set inside (or replaced whole)


@dataclass(slots=True)
class Prepared:
    shape: Shape
    key: tuple[Any, ...]  # values of shape.keys, as the columns hold them
    flat: tuple[Any, ...]  # values of shape.flat
    paths: dict[str, list[tuple[tuple[str, ...], Any]]] = field(default_factory=dict)


def documents_of(collection: CollectionSpec, table: Table) -> set[str]:
    """Columns whose values are JSON documents: typed JSON, or parents of nested fields."""
    found = {name for name in collection.top_level if is_json(table.c[name].type)}
    found |= {f.path.split(".", 1)[0] for f in collection.fields if "." in f.path}
    return found


def column_of(
    system: str, table: Table, collection: CollectionSpec, name: str
) -> ColumnElement[Any]:
    if name not in table.c:
        raise ConnectorError(
            system,
            f"collection '{collection.name}': table '{table.name}' has no column '{name}'",
            retryable=False,
        )
    return table.c[name]


Convert = Callable[[Any], Any]


@dataclass(slots=True)
class _Form:
    # Key fields that may name the row, each with how its column takes a value; None for a
    # name the table lacks (an error, once a row gives it a value to compare).
    keys: tuple[tuple[str, Convert | None], ...]
    # Values set: (path, column, how the column stores it); None for a column the table lacks.
    flat: tuple[tuple[str, str, Convert | None], ...]
    # Values set inside JSON columns: (path, column, the path inside it).
    inside: tuple[tuple[str, str, tuple[str, ...]], ...]
    shapes: dict[tuple[tuple[str, ...], tuple[str, ...]], Shape] = field(default_factory=dict)


class Preparer:
    """Prepares the changes of one batch, on one connection's dialect."""

    def __init__(self, system: str, dialect: str, tables: Mapping[str, Table]) -> None:
        self._system = system
        self._dialect = dialect
        self._tables = tables
        self._forms: dict[tuple[Any, ...], _Form] = {}
        self._documents: dict[str, set[str]] = {}

    def prepare(self, change: Change) -> Prepared | None:
        """The change with values fitted to columns, or None when its row cannot exist."""
        collection = change.collection
        updates = change.action is ChangeAction.UPDATE
        signature = (collection.key, change.action, tuple(change.key), tuple(change.values))
        form = self._forms.get(signature)
        if form is None:
            form = self._forms[signature] = self._form(change)
        keys: list[str] = []
        null_keys: list[str] = []
        key_values: list[Any] = []
        for name, convert in form.keys:
            value = change.key[name]
            # A JSON value cannot be compared portably (PostgreSQL's json has no equality);
            # the other fields still name the row.
            if isinstance(value, dict | list):
                continue
            if convert is None:
                self._column(collection, name)  # raises: the table has no such column
                continue
            if value is None:
                null_keys.append(name)
                continue
            fitted = convert(value)
            if fitted is UNFIT:
                return None
            keys.append(name)
            key_values.append(fitted)
        if not keys and not null_keys:
            raise ConnectorError(
                self._system,
                f"a change to '{collection.key}' names its row by no column that can be compared",
                retryable=False,
            )
        flat: list[Any] = []
        paths: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
        if updates:
            for path, name, store in form.flat:
                if store is None:
                    self._column(collection, name)  # raises
                    continue
                stored = store(change.values[path])
                if stored is UNFIT:
                    raise ConnectorError(
                        self._system,
                        f"'{collection.key}.{path}': the new value cannot be stored in a "
                        f"{self._table(collection).c[name].type} column",
                        retryable=False,
                    )
                flat.append(stored)
            for path, name, inside in form.inside:
                paths.setdefault(name, []).append((inside, change.values[path]))
        named = (tuple(keys), tuple(null_keys))
        shape = form.shapes.get(named)
        if shape is None:
            shape = form.shapes[named] = Shape(
                collection=collection.key,
                action=change.action,
                keys=named[0],
                null_keys=named[1],
                flat=tuple(name for _, name, _ in form.flat),
                documents=tuple(dict.fromkeys(name for _, name, _ in form.inside)),
            )
        return Prepared(shape, tuple(key_values), tuple(flat), paths)

    def _table(self, collection: CollectionSpec) -> Table:
        return self._tables[collection.name]

    def _column(self, collection: CollectionSpec, name: str) -> ColumnElement[Any]:
        return column_of(self._system, self._table(collection), collection, name)

    def documents(self, collection: CollectionSpec) -> set[str]:
        found = self._documents.get(collection.key)
        if found is None:
            found = self._documents[collection.key] = documents_of(
                collection, self._table(collection)
            )
        return found

    def _form(self, change: Change) -> _Form:
        collection = change.collection
        table = self._table(collection)
        documents = self.documents(collection)
        keys: list[tuple[str, Convert | None]] = []
        for name in change.key:
            if "." in name or name in documents:
                continue
            known = name in table.c
            keys.append(
                (name, fitter(table.c[name].type, dialect=self._dialect) if known else None)
            )
        flat: dict[str, tuple[str, Convert | None]] = {}  # by column: one value each
        inside: list[tuple[str, str, tuple[str, ...]]] = []
        if change.action is ChangeAction.UPDATE:
            for path in change.values:
                name, *rest = path.split(".")
                if name in documents and name in table.c:
                    inside.append((path, name, tuple(rest)))
                elif name in table.c:
                    flat[name] = (path, storer(table.c[name].type, dialect=self._dialect))
                else:
                    flat[name] = (path, None)
        return _Form(
            keys=tuple(keys),
            flat=tuple((path, name, store) for name, (path, store) in flat.items()),
            inside=tuple(inside),
        )
