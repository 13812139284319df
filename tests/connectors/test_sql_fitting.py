"""Column converters made once per column (`fitter`, `storer`) answer exactly as `fit` and
`storable` do, value for value, on every dialect: a large erasure uses the former."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from opendpo.connectors.sql_types import UNFIT, fit, fitter, storable, storer

TYPES: list[TypeEngine[Any]] = [
    Integer(), SmallInteger(), BigInteger(), mysql.TINYINT(unsigned=True),
    mysql.INTEGER(unsigned=True),
    String(10), Text(), Enum("a", "b", name="ab"), Boolean(), Numeric(10, 2), DateTime(),
    Uuid(), JSON(), mysql.LONGTEXT(),
]  # fmt: skip
VALUES: list[Any] = [
    None, 0, 1, -1, 255, 256, -129, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1,
    True, False, 1.0, 1.5, float("nan"), decimal.Decimal("7"), decimal.Decimal("7.25"),
    "42", " 42 ", "x", "a", "nul\x00here", "2026-01-02T03:04:05", "", uuid.UUID(int=9),
    str(uuid.UUID(int=9)), {"a": 1}, [1, 2], dt.datetime(2026, 1, 2), b"\x00",
]  # fmt: skip


def same(one: Any, other: Any) -> bool:
    if one is UNFIT or other is UNFIT:
        return one is other
    if isinstance(one, float) and one != one:  # NaN
        return isinstance(other, float) and other != other
    return type(one) is type(other) and one == other


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
@pytest.mark.parametrize("type_", TYPES, ids=repr)
def test_a_column_s_converters_agree_with_fit_and_storable(
    type_: TypeEngine[Any], dialect: str
) -> None:
    fitted, stored = fitter(type_, dialect=dialect), storer(type_, dialect=dialect)
    for value in VALUES:
        assert same(fitted(value), fit(value, type_, dialect=dialect)), (value, "fit")
        assert same(stored(value), storable(value, type_, dialect=dialect)), (value, "storable")


def test_the_bounds_of_an_integer_column_are_kept() -> None:
    small = fitter(SmallInteger(), dialect="postgresql")
    assert (small(32767), small(32768), small(-32768), small(-32769)) == (
        32767,
        UNFIT,
        -32768,
        UNFIT,
    )
    unsigned = fitter(mysql.TINYINT(unsigned=True), dialect="mysql")
    assert (unsigned(255), unsigned(256), unsigned(-1)) == (255, UNFIT, UNFIT)
