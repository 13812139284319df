"""SQL databases as connected systems: PostgreSQL, MariaDB/MySQL, SQLite, any SQLAlchemy dialect.

A collection is a table and its top-level fields are columns; nested fields
(`billing_address.street`) live inside a JSON column named by their top-level part. Each
connector keeps one engine (a pool of connections) for its lifetime and learns each table's
columns once, so that values can be made to fit the column before the database sees them.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from sqlalchemy import Engine, MetaData, Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from opendpo.connectors.base import (
    Applied,
    Change,
    CollectionSpec,
    ConnectorError,
    Row,
)
from opendpo.connectors.secrets import resolve_secret
from opendpo.connectors.sql_apply import apply_changes
from opendpo.connectors.sql_engine import build_engine, database_url, describe_server
from opendpo.connectors.sql_errors import connector_error
from opendpo.connectors.sql_find import lookups, stream_rows
from opendpo.connectors.sql_types import values_per_statement

logger = logging.getLogger(__name__)

# Values per SELECT: each a parameter of its own, or on PostgreSQL one array, which psycopg
# builds in memory at about 230 bytes a value (23 MiB for 100,000); fewer on old SQLite
# (`sql_types.values_per_statement`).
VALUES_PER_STATEMENT = 10_000


class SqlConnection(BaseModel):
    """How to reach a SQL database: `systems[].connection` with `type: sql`."""

    # A URL may hold a password: validation errors must not echo it.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: Literal["sql"] = "sql"
    url_env: str | None = None
    url: SecretStr | None = Field(default=None, validate_default=True)
    schema_name: str | None = None
    pool_size: int = Field(default=5, ge=1, le=100)
    connect_timeout_seconds: int = Field(default=10, ge=1, le=600)
    statement_timeout_seconds: int | None = Field(default=None, ge=1, le=86_400)

    @field_validator("url")
    @classmethod
    def _url_form(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        env = info.data.get("url_env")
        if value is None and not env:
            raise ValueError("give url (the database URL) or url_env (a variable holding it)")
        if value is not None and env:
            raise ValueError("give url or url_env, not both")
        if value is not None:
            database_url(value.get_secret_value())
        return value

    @field_validator("statement_timeout_seconds")
    @classmethod
    def _timeout_possible(cls, value: int | None, info: ValidationInfo) -> int | None:
        url = info.data.get("url")
        backend = database_url(url.get_secret_value()).get_backend_name() if url else None
        if value is not None and backend == "sqlite":
            raise ValueError("SQLite has no statement timeout")
        return value


class SqlConnector:
    """One SQL database, shared by every request and worker thread of a process."""

    def __init__(
        self,
        name: str,
        config: SqlConnection,
        collections: Sequence[CollectionSpec],
        *,
        environ: Mapping[str, str],
    ) -> None:
        self.name = name
        self._config = config
        self._collections = tuple(collections)
        self._environ = environ
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._password: str | None = None
        self._tables: dict[str, Table] = {}
        self._statements: dict[Any, Any] = {}  # look-ups built once (sql_find.stream_rows)
        # The connection a thread's `reading()` scope holds, for its finds to share.
        self._reading = threading.local()

    # -- the engine and what it knows about tables ---------------------------------------

    def _open(self) -> Engine:
        with self._lock:
            if self._engine is not None:
                return self._engine
            config = self._config
            raw = resolve_secret(self.name, "url", config.url, config.url_env, self._environ)
            try:
                url = database_url(raw)
            except ValueError as exc:
                where = f"url_env ({config.url_env})" if config.url is None else "url"
                raise ConnectorError(self.name, f"{where}: {exc}", retryable=False) from None
            self._password = url.password if isinstance(url.password, str) else None
            if url.get_backend_name() == "sqlite" and config.statement_timeout_seconds:
                raise ConnectorError(
                    self.name,
                    "statement_timeout_seconds: SQLite has no statement timeout",
                    retryable=False,
                )
            with self._errors("opening the database"):
                self._engine = build_engine(
                    url,
                    pool_size=config.pool_size,
                    connect_timeout=config.connect_timeout_seconds,
                    statement_timeout=config.statement_timeout_seconds,
                )
            return self._engine

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Driver exceptions as ConnectorError; `from None`, as their text may quote values."""
        try:
            yield
        except ConnectorError:
            raise
        except (sa_exc.SQLAlchemyError, ImportError) as exc:
            if not isinstance(exc, sa_exc.DBAPIError | ImportError | sa_exc.NoSuchModuleError):
                # Not the database's answer but our misuse of SQLAlchemy: worth a traceback.
                logger.error("%s: %s failed", self.name, doing, exc_info=exc)
            raise connector_error(self.name, exc, doing=doing, password=self._password) from None

    def _reflect(self, connection: Connection, name: str) -> Table | None:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                table = Table(
                    name,
                    MetaData(),
                    schema=self._config.schema_name,
                    autoload_with=connection,
                    resolve_fks=False,
                )
        except sa_exc.NoSuchTableError:
            return None
        for warning in caught:  # e.g. a column type SQLAlchemy does not know: compared as text
            logger.info("%s: table %s: %s", self.name, name, warning.message)
        return table

    def _table(self, collection: CollectionSpec, connection: Connection | None = None) -> Table:
        """The collection's table, learnt once (through `connection` when one is held: a
        second checkout could wait on a pool the holder itself fills); every top-level field
        must be a column."""
        table = self._tables.get(collection.name)
        if table is None:
            engine = self._open()
            # Connection first, then the lock, as check() takes them: never the reverse.
            with (
                (
                    nullcontext(connection) if connection is not None else engine.connect()
                ) as reflecting,
                self._lock,
            ):
                table = self._tables.get(collection.name)
                if table is None:
                    table = self._reflect(reflecting, collection.name)
                    if table is None:
                        raise ConnectorError(self.name, self._no_table(collection), retryable=False)
                    self._tables[collection.name] = table
        missing = [name for name in collection.top_level if name not in table.c]
        if missing:
            raise ConnectorError(self.name, self._no_columns(collection, missing), retryable=False)
        return table

    def _no_table(self, collection: CollectionSpec) -> str:
        schema = f" in schema '{self._config.schema_name}'" if self._config.schema_name else ""
        return f"collection '{collection.name}': no table '{collection.name}'{schema}"

    def _no_columns(self, collection: CollectionSpec, missing: Sequence[str]) -> str:
        names = ", ".join(f"'{name}'" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        table = collection.name
        return f"collection '{collection.name}': table '{table}' has no column{plural} {names}"

    # -- the Connector protocol ------------------------------------------------------------

    def check(self) -> str:
        engine = self._open()
        problems: list[str] = []
        with self._errors("connecting"), engine.connect() as connection:
            description = describe_server(connection)
            with self._lock:
                # Learn the tables afresh: check() is how a changed schema gets noticed.
                self._tables.clear()
                self._statements.clear()
                for collection in self._collections:
                    table = self._reflect(connection, collection.name)
                    if table is None:
                        problems.append(self._no_table(collection))
                        continue
                    self._tables[collection.name] = table
                    missing = [name for name in collection.top_level if name not in table.c]
                    if missing:
                        problems.append(self._no_columns(collection, missing))
        if problems:
            raise ConnectorError(self.name, "; ".join(problems), retryable=False)
        return description

    def find(self, collection: CollectionSpec, where: Mapping[str, Sequence[Any]]) -> Iterator[Row]:
        return self._stream(collection, {path: list(values) for path, values in where.items()})

    @contextmanager
    def reading(self) -> Iterator[None]:
        # A checkout costs a ping and, on return, a rollback: two round trips, as many as
        # the look-up itself. A dataset's collections share one.
        if getattr(self._reading, "connection", None) is not None:
            yield  # nested: the outer scope's connection serves
            return
        engine = self._open()
        with self._errors("connecting"), engine.connect() as connection:
            self._reading.connection = connection
            try:
                yield
            finally:
                self._reading.connection = None

    def apply(self, changes: Sequence[Change]) -> Applied:
        return self.apply_batches([changes])

    def apply_batches(self, batches: Iterable[Sequence[Change]]) -> Applied:
        engine = self._open()
        changed: dict[str, int] = {}
        with self._errors("writing"), engine.connect() as connection:
            begun = False
            for changes in batches:
                if not changes:
                    continue
                if not begun and engine.dialect.name == "sqlite":
                    # Take the write lock now, not at the first write: the JSON
                    # read-modify-write must not see a value another writer is about to replace.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                begun = True
                tables = {c.collection.name: self._table(c.collection, connection) for c in changes}
                for key, count in apply_changes(self.name, connection, changes, tables).items():
                    changed[key] = changed.get(key, 0) + count
            # One transaction for every batch: leaving the block without commit (an error,
            # or the step losing its lease between batches) rolls everything back.
            if begun:
                connection.commit()
        return Applied(changed=changed)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._tables.clear()
            self._statements.clear()

    # -- reading -------------------------------------------------------------------------

    def _stream(self, collection: CollectionSpec, where: dict[str, list[Any]]) -> Iterator[Row]:
        engine = self._open()
        with self._errors(f"reading {collection.name}"):
            table = self._table(collection)
            found = lookups(self.name, table, collection, where, dialect=engine.dialect.name)
            if not found:
                return
            held: Connection | None = getattr(self._reading, "connection", None)
            with nullcontext(held) if held is not None else engine.connect() as connection:
                # Known once connected: the version of the server (or SQLite library).
                limit = values_per_statement(connection, VALUES_PER_STATEMENT)
                yield from stream_rows(
                    connection,
                    table,
                    collection,
                    found,
                    values_per_statement=limit,
                    statements=self._statements,
                )
