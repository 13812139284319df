"""Reaching a SQL database: URLs, one pool of connections per system, and which server it is.

URLs that name a database but no driver get the drivers OpenDPO ships (psycopg 3 for
PostgreSQL, PyMySQL for MariaDB and MySQL); any other SQLAlchemy URL is used as given.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, make_url

# The drivers OpenDPO ships, for URLs that name none (or name a server, not a dialect).
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


def database_url(text: str) -> URL:
    """`text` as a SQLAlchemy URL using the drivers OpenDPO ships; ValueError saying what is wrong.

    Never connects, and never repeats the URL (it may hold a password).
    """
    try:
        url = make_url(text.strip())
    except (sa_exc.ArgumentError, ValueError):
        raise ValueError(
            "not a database URL (expected e.g. postgresql://user:password@host/database, "
            "mysql://user@host/database or sqlite:///path/to/file.db)"
        ) from None
    url = url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))
    try:
        url.get_dialect()
    except sa_exc.NoSuchModuleError:
        raise ValueError(f"unknown kind of database '{url.drivername}'") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("an SQLite URL needs a file: sqlite:///path/to/file.db")
    elif backend in ("postgresql", "mysql", "mariadb") and not url.database:
        raise ValueError("the URL names no database (…/database at the end)")
    return url


def build_engine(
    url: URL, *, pool_size: int, connect_timeout: int, statement_timeout: int | None
) -> Engine:
    """An engine (a pool of `pool_size` connections) for `url`; connects only when used."""
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {"pool_pre_ping": True}
    timeout = statement_timeout
    if backend == "postgresql":
        connect_args["connect_timeout"] = connect_timeout
        connect_args["application_name"] = "opendpo"
        if timeout is not None:
            connect_args["options"] = f"-c statement_timeout={timeout * 1000}"
    elif backend in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = connect_timeout
        # Servers close idle connections after wait_timeout (8 hours by default).
        options["pool_recycle"] = 3600
    elif backend == "sqlite":
        # How long to wait for another writer's lock before giving up (SQLITE_BUSY).
        connect_args["timeout"] = connect_timeout
        # Open the file read-write, never create it: a mistyped path must fail, not start empty.
        url = url.set(database=f"file:{_sqlite_uri_path(url.database or '')}").update_query_dict(
            {"mode": "rw", "uri": "true"}
        )
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=connect_timeout,
        **options,
    )
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_session)
    elif backend in ("mysql", "mariadb") and timeout is not None:
        event.listen(engine, "connect", _mysql_statement_timeout(timeout))
    return engine


def _sqlite_uri_path(path: str) -> str:
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def _sqlite_session(dbapi_connection: Any, _record: Any) -> None:
    # The schema's foreign keys hold only when each connection asks SQLite to enforce them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _mysql_statement_timeout(seconds: int) -> Any:
    def set_timeout(dbapi_connection: Any, _record: Any) -> None:
        server = getattr(dbapi_connection, "get_server_info", lambda: "")()
        cursor = dbapi_connection.cursor()
        if "MariaDB" in server:
            cursor.execute(f"SET SESSION max_statement_time = {int(seconds)}")
        else:  # MySQL bounds only SELECTs, in milliseconds
            cursor.execute(f"SET SESSION max_execution_time = {int(seconds) * 1000}")
        cursor.close()

    return set_timeout


def describe_server(connection: Connection) -> str:
    """ "PostgreSQL 15.19", "MariaDB 10.11.19", "SQLite 3.40.1": the server the connection is on."""
    dialect = connection.dialect
    version = ".".join(str(part) for part in dialect.server_version_info or () if part != "")
    version = ".".join(p for p in version.split(".") if p.isdigit())
    name = {
        "postgresql": "PostgreSQL",
        "sqlite": "SQLite",
        "mssql": "SQL Server",
        "oracle": "Oracle",
    }.get(dialect.name, dialect.name)
    if dialect.name in ("mysql", "mariadb"):
        name = "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"
    return f"{name} {version}".strip()
