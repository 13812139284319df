"""Campaign lists streamed in over HTTP: CSV or JSON lines, read a line at a time.

A list of a million addresses is never held in memory: the body is read as it arrives, cut
into lines (each at most MAX_LINE bytes), and handed on in batches. A line that cannot be
read becomes a row with an error naming its line number; it never stops the list.

    CSV (text/csv): a header row with an `email` column, or `kind` and `value` columns.
    JSON lines (application/x-ndjson): {"email": ...} or {"kind": ..., "value": ...}.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from opendpo.errors import InvalidValue

CSV = "text/csv"
NDJSON = "application/x-ndjson"
MAX_LINE = 64 * 1024
BATCH_SIZE = 1000


@dataclass(frozen=True)
class ListRow:
    line: int
    cells: list[str]  # a CSV row as read (echoed in the output); empty for JSON lines
    kind: str | None
    value: str | None
    error: str | None = None

    @property
    def identity(self) -> tuple[str, str] | None:
        if self.error is not None or self.kind is None or self.value is None:
            return None
        return self.kind, self.value


@dataclass
class RecipientList:
    format: str  # CSV or NDJSON
    header: list[str]  # the CSV header row; empty for JSON lines
    lines: AsyncIterator[tuple[int, str | None]]

    async def rows(self) -> AsyncIterator[ListRow]:
        async for number, text in self.lines:
            if text is None:
                yield ListRow(number, [], None, None, f"line {number}: too long or not UTF-8")
                continue
            if not text.strip():
                continue
            yield self._csv_row(number, text) if self.format == CSV else _json_row(number, text)

    async def batches(self) -> AsyncIterator[list[ListRow]]:
        batch: list[ListRow] = []
        async for row in self.rows():
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch

    def _csv_row(self, number: int, text: str) -> ListRow:
        try:
            cells = next(csv.reader([text]))
        except (csv.Error, StopIteration) as exc:
            return ListRow(number, [], None, None, f"line {number}: {exc}")
        found = dict(zip(self.header, cells, strict=False))
        if len(cells) != len(self.header):
            error = f"line {number}: {len(cells)} columns where the header has {len(self.header)}"
            return ListRow(number, cells, None, None, error)
        return _identity_row(number, cells, found)


async def open_list(request: Request) -> RecipientList:
    """The list in the request body; for CSV its header is read (and checked) here, so that
    a list that cannot be read at all is refused before any result is sent."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (CSV, NDJSON):
        raise HTTPException(415, f"Send the list as {CSV} or {NDJSON}.")
    lines = _lines(request.stream())
    if content_type == NDJSON:
        return RecipientList(NDJSON, [], lines)
    header: list[str] = []
    async for _number, text in lines:
        if text is None or not text.strip():
            continue
        header = [cell.strip().lower() for cell in next(csv.reader([text]))]
        break
    if "email" not in header and not {"kind", "value"} <= set(header):
        raise InvalidValue("body", "the CSV header needs an `email` column, or `kind` and `value`")
    return RecipientList(CSV, header, lines)


def _identity_row(number: int, cells: list[str], found: dict[str, Any]) -> ListRow:
    kind, value = found.get("kind"), found.get("value")
    if isinstance(kind, str) and kind.strip():
        if not isinstance(value, str):
            return ListRow(number, cells, None, None, f"line {number}: `value` must be text")
        return ListRow(number, cells, kind.strip(), value)
    email = found.get("email")
    if isinstance(email, str) and email.strip():
        return ListRow(number, cells, "email", email)
    return ListRow(number, cells, None, None, f"line {number}: no `email`, or `kind` and `value`")


def _json_row(number: int, text: str) -> ListRow:
    try:
        found = json.loads(text)
    except ValueError:
        return ListRow(number, [], None, None, f"line {number}: not a JSON object")
    if not isinstance(found, dict):
        return ListRow(number, [], None, None, f"line {number}: not a JSON object")
    return _identity_row(number, [], found)


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, str | None]]:
    """(line number, text) for each line; text None for a line too long or not UTF-8."""
    buffer = b""
    number = 0
    skipping = False  # the rest of a line already reported as too long
    async for chunk in chunks:
        parts = (buffer + chunk).split(b"\n")
        buffer = parts.pop()
        for raw in parts:
            number += 1
            if skipping:
                skipping = False
                continue
            yield number, _decode(raw, first=number == 1)
        if len(buffer) > MAX_LINE:
            if not skipping:
                yield number + 1, None
                skipping = True
            buffer = b""
    if buffer and not skipping:
        yield number + 1, _decode(buffer, first=number == 0)


def _decode(raw: bytes, *, first: bool) -> str | None:
    if len(raw) > MAX_LINE:
        return None
    if first:
        raw = raw.removeprefix(codecs.BOM_UTF8)  # spreadsheet programs write one
    try:
        return raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None


class BodyStreamingResponse(StreamingResponse):
    """A streaming response that reads the request body while it answers.

    Starlette's own (under ASGI spec < 2.4, as uvicorn and httpx's test transport declare)
    listens for a disconnect by calling `receive` alongside the response, and would take
    body chunks the route is still reading. Here only the route calls `receive`.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream_response(send)
        if self.background is not None:
            await self.background()
