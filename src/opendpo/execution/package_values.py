"""How a row's values are written in a package: as JSON, and as spreadsheet cells.

Values are written as the systems hold them, bar what JSON and spreadsheets cannot take:
dates and times in ISO 8601; decimals as strings, in JSON and CSV alike, so that no digit is
lost to a float; bytes in base64; NaN and infinities (which JSON has no word for) as null.
A CSV cell that starts with = + - @, a tab or a carriage return is prefixed with ' so that
no spreadsheet runs it as a formula (OWASP, CSV injection); numbers are never prefixed.

A million rows go through here twice per export: the helpers are built once per collection
and keep the per-row work to dict look-ups and orjson (`store.json_text`).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from opendpo.connectors.base import Row
from opendpo.store import json_text

FORMULA_FIRST = frozenset("=+-@\t\r")

Encode = Callable[[Any], str]
Shape = dict[str, "Shape | None"]  # None: a leaf, kept whole


def plain(value: Any) -> Any:
    """What JSON holds for a value it has no type for."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def json_encoder() -> Encode:
    """Compact JSON, UTF-8 as it is, NaN and infinities as null (`json_text`)."""
    return partial(json_text.dumps, default=plain, ensure_ascii=False)


def cell(value: Any, encode: Encode) -> str:
    if type(value) is str:
        return "'" + value if value[:1] in FORMULA_FIRST else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return str(value) if math.isfinite(value) else ""
    text = encode(value) if isinstance(value, dict | list | tuple) else str(plain(value))
    return "'" + text if text[:1] in FORMULA_FIRST else text


def _shape(paths: Sequence[str]) -> Shape:
    shape: Shape = {}
    for path in paths:
        *parents, leaf = path.split(".")
        node = shape
        for part in parents:
            if part in node and node[part] is None:
                break  # the parent is kept whole already
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
        else:
            node[leaf] = None  # a parent named itself is kept whole
    return shape


def _cut(value: Any, shape: Shape) -> dict[str, Any]:
    source = value if isinstance(value, dict) else {}
    return {
        key: source.get(key) if sub is None else _cut(source.get(key), sub)
        for key, sub in shape.items()
    }


def projector(paths: Sequence[str]) -> Callable[[Row], dict[str, Any]]:
    """The row cut down to `paths` (dotted), nested as it was; missing values as None."""
    shape = _shape(paths)
    if all(sub is None for sub in shape.values()):
        keys = tuple(shape)
        return lambda row: {key: row.get(key) for key in keys}
    return lambda row: _cut(row, shape)


def cells(paths: Sequence[str], encode: Encode) -> Callable[[Row], list[str]]:
    """A row's CSV cells, one per dotted path."""
    split = [tuple(path.split(".")) for path in paths]
    if all(len(parts) == 1 for parts in split):
        keys = tuple(parts[0] for parts in split)
        return lambda row: [cell(row.get(key), encode) for key in keys]

    def nested(row: Row) -> list[str]:
        out = []
        for parts in split:
            value: Any = row
            for part in parts:
                value = value.get(part) if isinstance(value, dict) else None
            out.append(cell(value, encode))
        return out

    return nested
