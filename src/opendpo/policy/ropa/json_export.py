"""The records as plain JSON: the same structure as the records, nothing added."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, TextIO

from opendpo.policy.ropa.records import RecordsOfProcessing

FORMAT = "opendpo.ropa"
FORMAT_VERSION = 1


def to_json_data(records: RecordsOfProcessing) -> dict[str, Any]:
    data: dict[str, Any] = _plain(dataclasses.asdict(records))
    # Derived fields that Art 30(1)(d) names outright are spelled out for consumers.
    for activity, record in zip(data["activities"], records.activities, strict=True):
        activity["third_countries"] = list(record.third_countries)
    return {"format": FORMAT, "format_version": FORMAT_VERSION, **data}


def write_json(records: RecordsOfProcessing, out: TextIO) -> None:
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
    for chunk in encoder.iterencode(to_json_data(records)):
        out.write(chunk)
    out.write("\n")


def _plain(value: Any) -> Any:
    """Dates as ISO 8601 strings and tuples as lists; everything else is already JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
