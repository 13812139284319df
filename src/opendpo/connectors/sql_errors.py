"""What a database driver's exception means for a request: wait and retry, or stop for a person.

Messages name the server's complaint where it names only things (a role, a table, a column),
never where it may quote a value (a duplicate email address is personal data), and never the
password: every message is scrubbed of it, whatever the driver put there.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy import exc as sa_exc

from opendpo.connectors.base import ConnectorError

# PostgreSQL SQLSTATE classes and codes that may pass: connection trouble, resources, a
# transaction rolled back by a deadlock or serialization failure, a lock or statement timeout.
_PG_RETRYABLE_CLASSES = ("08", "40", "53", "57")
_PG_RETRYABLE_CODES = ("55P03", "55006")
# Classes whose server message names only identifiers: safe to repeat.
_PG_QUOTABLE_CLASSES = ("08", "28", "3D", "3F", "42", "57")
# The server refused us before any statement ran, for good (credentials, a missing database).
_PG_REFUSALS = (
    "password authentication failed",
    "role ",
    "no pg_hba.conf entry",
    "database ",
    "permission denied",
    "authentication",
)
_PG_DESCRIPTIONS = {
    "40P01": "deadlock detected",
    "40001": "the transaction could not be serialized",
    "55P03": "a lock could not be taken in time",
}
_PG_CLASS_DESCRIPTIONS = {
    "22": "a value does not fit its column",
    "23": "a constraint refused the change",
    "40": "the transaction was rolled back",
    "53": "the server is short of resources",
}
_PG_BUSY = ("too many connections", "starting up", "shutting down", "recovery mode", "slots")

_MYSQL_RETRYABLE = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    1205,  # lock wait timeout
    1213,  # deadlock
    1317,  # query interrupted
    1927,  # connection killed
    1969,  # MariaDB max_statement_time exceeded
    2002,
    2003,  # cannot connect
    2005,  # unknown host
    2006,  # server has gone away
    2013,  # lost connection during query
    2055,
    3024,  # MySQL max_execution_time exceeded
}
# Codes whose message names only identifiers (users, databases, tables, columns, constraints).
_MYSQL_QUOTABLE = _MYSQL_RETRYABLE | {1044, 1045, 1049, 1054, 1142, 1143, 1146, 1451, 1452}

_SQLITE_RETRYABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
}


@dataclass(frozen=True)
class _Verdict:
    retryable: bool
    reason: str


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _postgres(orig: BaseException) -> _Verdict:
    sqlstate: str | None = getattr(orig, "sqlstate", None)
    text = _first_line(orig).removeprefix("connection failed: ")
    if sqlstate is None:
        # No SQLSTATE: libpq failed to connect, or the connection broke mid-statement.
        fatal = text.partition("FATAL:")[2].strip()
        if fatal and not any(busy in fatal for busy in _PG_BUSY):
            refused = any(marker in fatal for marker in _PG_REFUSALS)
            return _Verdict(not refused, f"the server refused the connection: {fatal}")
        return _Verdict(True, f"cannot reach the server: {text}")
    retryable = sqlstate[:2] in _PG_RETRYABLE_CLASSES or sqlstate in _PG_RETRYABLE_CODES
    diag = getattr(orig, "diag", None)
    if sqlstate[:2] in _PG_QUOTABLE_CLASSES:
        primary = getattr(diag, "message_primary", None) or text
        return _Verdict(retryable, f"{primary} (SQLSTATE {sqlstate})")
    constraint = getattr(diag, "constraint_name", None)
    where = f" ({constraint})" if constraint else ""
    return _Verdict(retryable, f"{_describe_sqlstate(sqlstate)}{where} (SQLSTATE {sqlstate})")


def _describe_sqlstate(sqlstate: str) -> str:
    return _PG_DESCRIPTIONS.get(sqlstate) or _PG_CLASS_DESCRIPTIONS.get(
        sqlstate[:2], "the statement failed"
    )


def _mysql(orig: BaseException) -> _Verdict:
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    code = args[0] if args and isinstance(args[0], int) else None
    if code is None:
        return _Verdict(True, f"lost the connection: {_first_line(orig)}")
    retryable = code in _MYSQL_RETRYABLE
    if code in _MYSQL_QUOTABLE and len(args) > 1:
        return _Verdict(retryable, f"{args[1]} (MySQL error {code})")
    describe = {
        1062: "a unique key refused the change",
        1048: "a column refused an empty value",
        1406: "a value is too long for its column",
        1366: "a value does not fit its column",
        1292: "a value does not fit its column",
    }.get(code, "the statement failed")
    return _Verdict(retryable, f"{describe} (MySQL error {code})")


def _sqlite(orig: sqlite3.Error) -> _Verdict:
    code = getattr(orig, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    # SQLite's messages name tables and columns, never values.
    suffix = f" (SQLite error {primary})" if primary is not None else ""
    if primary is None:
        retryable = "locked" in str(orig) or "busy" in str(orig)
    else:
        retryable = primary in _SQLITE_RETRYABLE
    return _Verdict(retryable, f"{_first_line(orig)}{suffix}")


def _verdict(exc: BaseException) -> _Verdict:
    if isinstance(exc, sa_exc.DBAPIError):
        orig: BaseException = exc.orig or exc
        module = type(orig).__module__
        if module.startswith("psycopg"):
            return _postgres(orig)
        if module.startswith(("pymysql", "MySQLdb", "mysql")):
            return _mysql(orig)
        if isinstance(orig, sqlite3.Error):
            return _sqlite(orig)
        if exc.connection_invalidated:
            return _Verdict(True, f"lost the connection: {type(orig).__name__}")
        retryable = isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
        return _Verdict(retryable, f"the database failed: {type(orig).__name__}")
    if isinstance(exc, sa_exc.TimeoutError):
        return _Verdict(True, "every connection of the pool is busy: try again shortly")
    if isinstance(exc, sa_exc.DisconnectionError):
        return _Verdict(True, "lost the connection")
    if isinstance(exc, sa_exc.NoSuchModuleError | ImportError):
        return _Verdict(False, f"the database driver is not installed: {_first_line(exc)}")
    return _Verdict(False, f"the database failed: {type(exc).__name__}")


def scrub(text: str, secret: str | None) -> str:
    """`text` without the password, as written or as escaped in a URL."""
    if secret:
        for form in {secret, quote_plus(secret), quote(secret, safe="")}:
            text = text.replace(form, "***")
    return text


def connector_error(
    system: str, exc: BaseException, *, doing: str, password: str | None
) -> ConnectorError:
    """The ConnectorError for a driver or SQLAlchemy exception raised while `doing`."""
    verdict = _verdict(exc)
    message = scrub(f"{doing}: {verdict.reason}", password)
    return ConnectorError(system, message, retryable=verdict.retryable)
