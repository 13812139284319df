"""Reading JSON text fast without reading it differently from `json`."""

from __future__ import annotations

import json
import math

import pytest

from opendpo.store import json_text

TEXTS = [
    b'{"id":7,"name":"Jane","tags":["a","b"],"at":"2026-01-02","score":1.5,"none":null}',
    b"[9223372036854775807,18446744073709551615]",  # 64 bits: orjson reads them exactly
    b"[-9999999999999999999,12345678901234567890123]",  # beyond: orjson would give floats
    b'{"card":"4111111111111111111","n":1}',  # a long run of digits inside a string
    b'["\\ud800 alone"]',  # a lone surrogate, as json's ensure_ascii writes one
    b"[1,2]  ",
]


@pytest.mark.parametrize("text", TEXTS)
def test_values_are_read_exactly_as_json_reads_them(text: bytes) -> None:
    got = json_text.loads(text)
    assert got == json.loads(text)
    assert json.dumps(got) == json.dumps(json.loads(text))  # ints stay ints, digit for digit


def test_nan_and_infinity_written_by_json_read_back() -> None:
    value = json_text.loads(b'{"a":NaN,"b":Infinity,"c":1e400}')
    assert math.isnan(value["a"]) and value["b"] == math.inf and value["c"] == math.inf


def test_text_that_is_not_json_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(json.JSONDecodeError):
        json_text.loads(b'{"a":')


def test_what_dumps_writes_loads_reads() -> None:
    row = {"n": 2**70, "m": -(2**63) - 1, "s": "caf\u00e9", "f": 0.1, "l": [True, None]}
    assert json_text.loads(json_text.dumps(row).encode()) == row
