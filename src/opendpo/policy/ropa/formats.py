"""The export formats of the records of processing, by name, as the CLI and the web offer them."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from opendpo.policy.ropa.csv_export import write_csv
from opendpo.policy.ropa.html import write_html
from opendpo.policy.ropa.json_export import write_json
from opendpo.policy.ropa.jsonld import write_jsonld
from opendpo.policy.ropa.records import RecordsOfProcessing
from opendpo.policy.ropa.xlsx import write_xlsx

Writer = Callable[[RecordsOfProcessing, BinaryIO], None]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    suffix: str
    binary: bool  # not text: never written to a terminal
    write: Writer


def _as_utf8(write: Callable[[RecordsOfProcessing, TextIO], None]) -> Writer:
    def write_bytes(records: RecordsOfProcessing, out: BinaryIO) -> None:
        # newline="" leaves line endings to the writer (CSV needs CRLF, the rest LF).
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        try:
            write(records, text)
            text.flush()
        finally:
            text.detach()  # the caller owns `out`; do not close it with the wrapper

    return write_bytes


FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ExportFormat("csv", "text/csv; charset=utf-8", ".csv", False, _as_utf8(write_csv)),
        ExportFormat(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".xlsx",
            True,
            write_xlsx,
        ),
        ExportFormat("html", "text/html; charset=utf-8", ".html", False, _as_utf8(write_html)),
        ExportFormat("json", "application/json", ".json", False, _as_utf8(write_json)),
        ExportFormat("jsonld", "application/ld+json", ".jsonld", False, _as_utf8(write_jsonld)),
    )
}
