"""Writing generated rows into the estate's databases: batched, parents first, all or nothing.

One connection and one transaction per database (datasets sharing a database share both).
PostgreSQL and SQLite (driven here so that it does) undo table creation and drops on
rollback, so a failed build leaves each database as it found it, a replaced estate
included. MariaDB commits each CREATE and DROP at once: there a failed build drops the
tables it made, and a failed replace loses the old estate.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Integer, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from opendpo.demo.schema import dataset_metadata
from opendpo.demo.world import Row
from opendpo.errors import DomainError

logger = logging.getLogger(__name__)

TRANSACTIONAL_DDL = frozenset({"postgresql", "sqlite"})


class EstateError(DomainError):
    """A database of the estate could not be reached or written."""

    code = "estate_error"


@contextmanager
def connected(url: URL) -> Iterator[Connection]:
    """One connection to one database of the estate, closed and disposed of after."""
    shown = url.render_as_string(hide_password=True)
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise EstateError(f"{shown}: {exc}") from None
    if sqlite:
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    try:
        with mapped_errors(shown):
            connection = engine.connect()
        try:
            yield connection
        finally:
            connection.close()
    finally:
        engine.dispose()


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # Foreign keys enforced while writing; and no implicit transactions from the driver,
    # which would leave CREATE and DROP outside them: _sqlite_begin opens every one instead.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA foreign_keys = ON")


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


@contextmanager
def mapped_errors(shown: str) -> Iterator[None]:
    """Driver errors as an EstateError naming the database (password hidden), in one line."""
    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise EstateError(f"{shown}: {reason}") from None
    except SQLAlchemyError as exc:
        raise EstateError(f"{shown}: {exc}") from None


class Writer:
    """Buffers generated rows per table and writes each dataset's in batches, parents first."""

    def __init__(
        self, connections: Mapping[str, Connection], where: Mapping[str, str], *, batch_rows: int
    ) -> None:
        self._connections = dict(connections)
        self._where = where
        self._metadata: dict[str, MetaData] = {d: dataset_metadata(d) for d in connections}
        self._tables = {
            f"{dataset}.{table.name}": table
            for dataset, metadata in self._metadata.items()
            for table in metadata.sorted_tables
        }
        self._buffers: dict[str, list[Row]] = defaultdict(list)
        self._buffered: dict[str, int] = defaultdict(int)
        self._counts = dict.fromkeys(self._tables, 0)
        self._batch_rows = batch_rows
        self._created = False

    def existing_tables(self) -> dict[str, list[str]]:
        """Per dataset, its tables that the databases already hold."""
        found: dict[str, list[str]] = {}
        for dataset, connection in self._connections.items():
            with mapped_errors(self._where[dataset]):
                present = set(inspect(connection).get_table_names())
            clash = sorted(present & set(self._metadata[dataset].tables))
            if clash:
                found[dataset] = clash
        return found

    def create(self, *, replace: bool) -> None:
        for dataset, metadata in self._metadata.items():
            connection = self._connections[dataset]
            with mapped_errors(self._where[dataset]):
                if replace:
                    metadata.drop_all(connection, checkfirst=True)
                self._created = True
                metadata.create_all(connection)

    def add(self, table: str, row: Row) -> None:
        if table not in self._tables:
            return  # a dataset this build leaves out
        self._buffers[table].append(row)
        self._counts[table] += 1
        dataset = table.partition(".")[0]
        self._buffered[dataset] += 1
        if self._buffered[dataset] >= self._batch_rows:
            self._flush(dataset)

    def _flush(self, dataset: str) -> None:
        connection = self._connections[dataset]
        # sorted_tables puts every parent before its children: foreign keys hold at each batch.
        with mapped_errors(self._where[dataset]):
            for table in self._metadata[dataset].sorted_tables:
                rows = self._buffers.pop(f"{dataset}.{table.name}", None)
                if rows:
                    connection.execute(table.insert(), rows)
        self._buffered[dataset] = 0

    def finish(self) -> None:
        for dataset in self._metadata:
            self._flush(dataset)
            connection = self._connections[dataset]
            if connection.dialect.name == "postgresql":
                with mapped_errors(self._where[dataset]):
                    _advance_sequences(connection, self._metadata[dataset])
        for dataset, connection in self._distinct_connections():
            with mapped_errors(self._where[dataset]):
                connection.commit()

    def abandon(self) -> None:
        """Roll back; where the database kept the tables anyway (MariaDB), drop them."""
        for _, connection in self._distinct_connections():
            try:
                connection.rollback()
                if self._created and connection.dialect.name not in TRANSACTIONAL_DDL:
                    for dataset, metadata in self._metadata.items():
                        if self._connections[dataset] is connection:
                            metadata.drop_all(connection, checkfirst=True)
                    connection.commit()
            except SQLAlchemyError:
                logger.warning("could not remove a half-built estate table", exc_info=True)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def _distinct_connections(self) -> list[tuple[str, Connection]]:
        """One (dataset, connection) per database: datasets sharing one share a connection."""
        seen: dict[int, tuple[str, Connection]] = {}
        for dataset, connection in self._connections.items():
            seen.setdefault(id(connection), (dataset, connection))
        return list(seen.values())


def _advance_sequences(connection: Connection, metadata: MetaData) -> None:
    """Ids were given by the generator: move each serial's sequence past them, so a row
    added later by hand or by a test gets a fresh id."""
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None or not isinstance(column.type, Integer):
            continue
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"(SELECT max({column.name}) FROM {table.name}))"
            ),
            {"table": table.name, "column": column.name},
        )
