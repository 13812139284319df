"""Values as a column holds them: what `find` compares with, what `apply` writes.

A value of the wrong kind (a name where the column holds integers) can never be in the column,
so it is dropped before the database sees it: otherwise PostgreSQL fails the whole statement
and MySQL compares 'abc' equal to 0 and matches every row whose id is 0.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import Connection, any_, bindparam, cast, type_coerce
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine


class Unfit:
    """A value the column cannot hold."""

    def __repr__(self) -> str:
        return "UNFIT"


UNFIT: Final = Unfit()

_INTEGER = re.compile(r"[+-]?\d+")
_TRUE = {"true", "t", "yes", "1"}
_FALSE = {"false", "f", "no", "0"}


def _integer_bits(type_: TypeEngine[Any], dialect: str) -> int:
    if isinstance(type_, mysql.TINYINT):
        return 8
    if isinstance(type_, sqltypes.SmallInteger):
        return 16
    if isinstance(type_, mysql.MEDIUMINT):
        return 24
    # SQLite stores every INTEGER in 64 bits, whatever the declared type says.
    if isinstance(type_, sqltypes.BigInteger) or dialect == "sqlite":
        return 64
    return 32


def _integer(value: Any, type_: TypeEngine[Any], dialect: str) -> int | Unfit:
    if isinstance(value, int):
        number = int(value)
    elif isinstance(value, float | decimal.Decimal):
        try:
            number = int(value)
        except (OverflowError, ValueError):  # infinity, NaN
            return UNFIT
        if number != value:
            return UNFIT
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return UNFIT
    bits = _integer_bits(type_, dialect)
    if getattr(type_, "unsigned", False):
        return number if 0 <= number < 2**bits else UNFIT
    return number if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1) else UNFIT


def _numeric(value: Any, type_: TypeEngine[Any]) -> Any:
    if isinstance(value, bool):
        return UNFIT
    try:
        number = decimal.Decimal(value.strip() if isinstance(value, str) else str(value))
    except (decimal.InvalidOperation, ValueError, TypeError):
        return UNFIT
    if not number.is_finite():
        return UNFIT
    return float(number) if isinstance(type_, sqltypes.Float) else number


def _boolean(value: Any) -> bool | Unfit:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return UNFIT


def _temporal(value: Any, type_: TypeEngine[Any]) -> Any:
    try:
        if isinstance(type_, sqltypes.DateTime):
            if isinstance(value, dt.datetime):
                return value
            return dt.datetime.fromisoformat(value) if isinstance(value, str) else UNFIT
        if isinstance(type_, sqltypes.Date):
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                return value
            return dt.date.fromisoformat(value) if isinstance(value, str) else UNFIT
        if isinstance(value, dt.time):
            return value
        return dt.time.fromisoformat(value) if isinstance(value, str) else UNFIT
    except ValueError:
        return UNFIT


def _uuid(value: Any, type_: sqltypes.Uuid[Any]) -> Any:
    if not isinstance(value, uuid.UUID):
        if not isinstance(value, str):
            return UNFIT
        try:
            value = uuid.UUID(value.strip())
        except ValueError:
            return UNFIT
    return value if type_.as_uuid else str(value)


def _string(value: Any, type_: sqltypes.String, dialect: str) -> str | Unfit:
    if isinstance(value, bool) or not isinstance(value, str | int | decimal.Decimal | uuid.UUID):
        return UNFIT
    text = str(value)
    # PostgreSQL refuses NUL in text outright; no stored value can contain it.
    if dialect == "postgresql" and "\x00" in text:
        return UNFIT
    if isinstance(type_, sqltypes.Enum) and type_.enums and text not in type_.enums:
        return UNFIT
    return text


def fit(value: Any, type_: TypeEngine[Any], *, dialect: str) -> Any:
    """`value` as the column of `type_` holds it, or UNFIT.

    Types OpenDPO does not know (PostgreSQL's inet, a domain) are compared as text: see
    `comparable`.
    """
    if value is None:
        return UNFIT
    if isinstance(type_, sqltypes.Boolean):
        return _boolean(value)
    if isinstance(type_, sqltypes.Integer):
        return _integer(value, type_, dialect)
    if isinstance(type_, sqltypes.Numeric):
        return _numeric(value, type_)
    if isinstance(type_, sqltypes.DateTime | sqltypes.Date | sqltypes.Time):
        return _temporal(value, type_)
    if isinstance(type_, sqltypes.Uuid):
        return _uuid(value, type_)
    if isinstance(type_, sqltypes.String):
        return _string(value, type_, dialect)
    if isinstance(type_, sqltypes.LargeBinary):
        return value if isinstance(value, bytes) else UNFIT
    if isinstance(type_, sqltypes.JSON | sqltypes.ARRAY | sqltypes.Interval):
        return UNFIT
    return _string(value, sqltypes.Text(), dialect)


def fitter(type_: TypeEngine[Any], *, dialect: str) -> Callable[[Any], Any]:
    """`fit` for one column, with the type's questions answered once: a large erasure fits a
    million keys to the same few columns. Integers and text, nearly every key, go straight
    through; anything else goes through `fit`."""
    if isinstance(type_, sqltypes.Integer):
        bits = _integer_bits(type_, dialect)
        signed = not getattr(type_, "unsigned", False)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)

        def integer(value: Any) -> Any:
            if type(value) is int:
                return value if low <= value < high else UNFIT
            return _integer(value, type_, dialect) if value is not None else UNFIT

        return integer
    if isinstance(type_, sqltypes.String) and not isinstance(type_, sqltypes.Enum):
        nul = dialect == "postgresql"

        def string(value: Any) -> Any:
            if type(value) is str and not (nul and "\x00" in value):
                return value
            return _string(value, type_, dialect) if value is not None else UNFIT

        return string
    return lambda value: fit(value, type_, dialect=dialect)


def storer(type_: TypeEngine[Any], *, dialect: str) -> Callable[[Any], Any]:
    """`storable` for one column, as `fitter` is `fit`."""
    if is_json(type_):
        return lambda value: value
    fitted = fitter(type_, dialect=dialect)
    text = isinstance(type_, sqltypes.String)

    def store(value: Any) -> Any:
        if value is None:
            return None
        if text and isinstance(value, dict | list):
            return encode_json(value, type_)
        return fitted(value)

    return store


def known(type_: TypeEngine[Any]) -> bool:
    return isinstance(
        type_,
        sqltypes.Boolean
        | sqltypes.Integer
        | sqltypes.Numeric
        | sqltypes.DateTime
        | sqltypes.Date
        | sqltypes.Time
        | sqltypes.Uuid
        | sqltypes.String
        | sqltypes.LargeBinary
        | sqltypes.JSON
        | sqltypes.ARRAY
        | sqltypes.Interval,
    )


def comparable(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column as `find` compares it: as text where its type is not one we know."""
    return column if known(column.type) else cast(column, sqltypes.String())


def values_per_statement(connection: Connection, wanted: int) -> int:
    """`wanted`, or fewer where the database takes fewer parameters in a statement: SQLite
    before 3.32 allows 999."""
    version = connection.dialect.server_version_info or ()
    if connection.dialect.name == "sqlite" and version < (3, 32):
        return min(wanted, 900)
    return wanted


def among(expression: ColumnElement[Any], name: str, *, arrays: bool) -> ColumnElement[bool]:
    """`expression` among the values bound to `name` at execution: as one array where the
    database has them (PostgreSQL: the statement's text is the same whatever the number of
    values, so the server can keep its plan), otherwise as an IN list expanded per execution."""
    if not arrays:
        return expression.in_(bindparam(name, expanding=True))
    type_ = expression.type
    if isinstance(type_, sqltypes.NullType):  # lower(email), say
        type_ = sqltypes.String()
    return expression == any_(bindparam(name, type_=postgresql.ARRAY(type_)))


def is_json(type_: TypeEngine[Any]) -> bool:
    return isinstance(type_, sqltypes.JSON)


def json_path(
    column: ColumnElement[Any], parts: Sequence[str], data_type: str | None, *, dialect: str
) -> ColumnElement[Any]:
    """The value at `parts` inside a JSON column (or a text column holding JSON)."""
    document: Any
    if is_json(column.type):
        document = column
    elif dialect == "postgresql":
        document = cast(column, postgresql.JSONB)
    else:
        document = type_coerce(column, sqltypes.JSON)
    element = document[tuple(parts)] if len(parts) > 1 else document[parts[0]]
    if data_type == "integer":
        result: ColumnElement[Any] = element.as_integer()
    elif data_type == "float":
        result = element.as_float()
    elif data_type == "boolean":
        result = element.as_boolean()
    else:
        result = element.as_string()
    return result


def json_path_type(data_type: str | None) -> TypeEngine[Any]:
    """The type a value looked up inside JSON is compared as (fides_meta.data_type)."""
    if data_type == "integer":
        return sqltypes.BigInteger()
    if data_type == "float":
        return sqltypes.Float()
    if data_type == "boolean":
        return sqltypes.Boolean()
    return sqltypes.Text()


def decode_json(value: Any) -> Any:
    """A JSON column's value as Python data: SQLite and MariaDB hand back text."""
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def encode_json(document: Any, type_: TypeEngine[Any]) -> Any:
    """What to bind when writing `document` into a column of `type_`."""
    if is_json(type_):
        return document
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def set_path(document: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Set one nested value, creating the objects on the way; ValueError where one is not."""
    node = document
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ValueError(part)
        node = child
    node[parts[-1]] = value


def storable(value: Any, type_: TypeEngine[Any], *, dialect: str) -> Any:
    """`value` as written into a column of `type_`: None stays None; UNFIT if it cannot be."""
    if value is None:
        return None
    if is_json(type_):
        return value
    if isinstance(value, dict | list) and isinstance(type_, sqltypes.String):
        # MariaDB reflects a JSON column as LONGTEXT: a document goes in as its JSON text.
        return encode_json(value, type_)
    return fit(value, type_, dialect=dialect)
