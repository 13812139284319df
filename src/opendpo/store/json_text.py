"""Rows as JSON text, in bulk: orjson where it can, `json` where it cannot, the same result.

Reading is the same: orjson reads a batch of a thousand rows about four times faster, but
takes an integer beyond 64 bits for a float (losing its last digits, silently) and refuses
NaN and lone surrogates, which text `json` wrote may hold. Text with a run of 19 digits
anywhere (perhaps only inside a string: `json` reads that just as well) goes to `json`.

orjson writes a row about ten times faster than `json`. It refuses integers beyond 64 bits,
keys that are not strings and lone surrogates; those rows go through `json`. Either way NaN
and infinities, which JSON has no word for, are written as null (orjson does so itself;
for `json` the value is walked, only when it holds one), so a row reads back the same
whichever encoder wrote it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

# 19 digits: the shortest integer (-9999999999999999999) that orjson would read as a float.
# Found by mapping digits to "0" and all else to " ": ten times faster than a regex.
LONG_NUMBER = b"0" * 19
DIGITS_ONLY = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))


def finite(value: Any) -> Any:
    """The value with NaN and infinities, at any depth, replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(
    value: Any, *, default: Callable[[Any], Any] | None = None, ensure_ascii: bool = True
) -> str:
    """Compact JSON text of `value`; `default` writes what JSON has no type for."""
    try:
        return orjson.dumps(value, default=default).decode()
    except TypeError:  # orjson.JSONEncodeError: something only `json` writes
        pass
    encoder = json.JSONEncoder(
        default=default, ensure_ascii=ensure_ascii, allow_nan=False, separators=(",", ":")
    )
    try:
        return encoder.encode(value)
    except ValueError:  # NaN or infinity somewhere: rare, so only then walk the value
        return encoder.encode(finite(value))


def loads(data: bytes) -> Any:
    """The value of JSON text, exactly as `json.loads` reads it."""
    if LONG_NUMBER not in data.translate(DIGITS_ONLY):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # NaN, infinity, a lone surrogate: `json` reads them
            pass
    return json.loads(data)
