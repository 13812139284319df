"""The zip a person downloads: `data.json`, one CSV per collection, and (access) `report.html`.

The zip is streamed (zip64, so any size) to a stream that need not seek: the store's file
writer. Nothing holds a collection in memory, and the rows are read once: as `data.json`
reads each collection's rows from `PackageSection.rows`, row by row, their CSV is written to
a sealed spool (`security.sealed_spool`: encrypted on local disk under a key held only in
memory), copied into the zip once `data.json` is done. The JSON and the CSV are made from
the same rows, so they cannot disagree.

Which fields a section carries is decided beforehand (`package_contents.choose_fields`): for
a portability package (Art 20) only data the person provided, processed on consent or
contract, and not data whose purposes say it came from someone else (a credit reference
agency's report); its zip has no report, only the data in JSON and CSV.

Values are written as `package_values` says (ISO 8601 dates, decimals as exact strings,
cells that a spreadsheet would run as formulas defused). CSVs are UTF-8 with a byte order
mark so that Excel reads accents right, nested fields flattened to dotted columns
(`billing_address.city`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from opendpo.connectors.base import CollectionSpec, Row
from opendpo.errors import InvalidValue
from opendpo.execution.package_contents import PackageKind
from opendpo.execution.package_values import Encode, cell, cells, json_encoder, projector
from opendpo.execution.report import render_report
from opendpo.execution.report_facts import ReportFacts
from opendpo.security.sealed_spool import SealedSpool

DATA_JSON = "data.json"
REPORT_HTML = "report.html"
FORMAT = "opendpo-package/1"
# Rows encoded before each write: fewer, larger writes into the zip's compressor.
WRITE_BATCH = 500
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class PackageSink(Protocol):
    """Where the zip goes: an open binary file, or the store's file writer."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PackageSection:
    """One collection of one system: its fields to give, and how to read its rows again."""

    system: str
    system_name: str
    collection: CollectionSpec
    fields: tuple[str, ...]  # dotted paths, in the order the CSV's columns take
    rows: Callable[[], Iterator[Row]]


@dataclass(frozen=True)
class PackageSummary:
    kind: PackageKind
    rows: Mapping[str, int]  # collection key (dataset.collection) -> rows packaged
    entries: tuple[str, ...]  # the zip's members, in order

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class _Layout:
    """Where each section goes: its system's place in data.json and its CSV's name."""

    def __init__(self, sections: Sequence[PackageSection]) -> None:
        seen: dict[str, PackageSection] = {}
        names: dict[tuple[str, str], int] = {}
        for section in sections:
            if section.collection.key in seen:
                raise InvalidValue("sections", f"{section.collection.key} is given twice")
            seen[section.collection.key] = section
            place = (section.system, section.collection.name)
            names[place] = names.get(place, 0) + 1
        # Grouped by system, in the order systems first appear, for one JSON object each.
        order = list(dict.fromkeys(s.system for s in sections))
        self.sections = sorted(sections, key=lambda s: order.index(s.system))
        self._names = names
        self._paths: dict[str, str] = {}
        taken: set[str] = set()
        for section in self.sections:
            stem = f"{_safe(section.system)}/{_safe(self.name(section))}"
            path, number = f"{stem}.csv", 1
            while path in taken:  # names that differ only in characters made safe
                number += 1
                path = f"{stem}-{number}.csv"
            taken.add(path)
            self._paths[section.collection.key] = path

    def name(self, section: PackageSection) -> str:
        """The collection's name within its system: qualified by dataset only when needed."""
        collection = section.collection
        if self._names[(section.system, collection.name)] > 1:
            return collection.key
        return collection.name

    def csv_path(self, section: PackageSection) -> str:
        return self._paths[section.collection.key]


def _safe(name: str) -> str:
    return UNSAFE_NAME.sub("_", name)


class _CsvFile:
    """A collection's CSV (UTF-8 with a byte order mark), written as its rows go by."""

    def __init__(self, section: PackageSection, encode: Encode, spool: SealedSpool) -> None:
        self.spool = spool
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._cells = cells(section.fields, encode)
        self._batch: list[list[str]] = []
        spool.write(codecs.BOM_UTF8)
        self._writer.writerow([cell(path, encode) for path in section.fields])

    def add(self, row: Row) -> None:
        self._batch.append(self._cells(row))
        if len(self._batch) == WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        self._writer.writerows(self._batch)
        self._batch.clear()
        self.spool.write(self._text.getvalue().encode("utf-8"))
        self._text.seek(0)
        self._text.truncate()


def _write_json(
    out: TextIO,
    layout: _Layout,
    kind: PackageKind,
    encode: Encode,
    csvs: Mapping[str, _CsvFile],
) -> dict[str, int]:
    counts: dict[str, int] = {}
    out.write(f'{{"format": {encode(FORMAT)}, "kind": {encode(kind)}, "systems": {{')
    current: str | None = None
    for section in layout.sections:
        if section.system != current:
            if current is not None:
                out.write("}},")
            current = section.system
            out.write(f"\n{encode(section.system)}: {{")
            out.write(f'"name": {encode(section.system_name)}, "collections": {{')
        else:
            out.write(",")
        out.write(f"\n{encode(layout.name(section))}: {{")
        out.write(f'"dataset": {encode(section.collection.dataset)}, ')
        out.write(f'"fields": {encode(list(section.fields))}, "rows": [')
        project = projector(section.fields)
        table = csvs[section.collection.key]
        count = 0
        batch: list[str] = []
        for row in section.rows():
            batch.append(encode(project(row)))
            table.add(row)
            count += 1
            if len(batch) == WRITE_BATCH:
                out.write(("\n" if count == WRITE_BATCH else ",\n") + ",\n".join(batch))
                batch.clear()
        if batch:
            out.write(("\n" if count == len(batch) else ",\n") + ",\n".join(batch))
        table.flush()
        out.write("]}")
        counts[section.collection.key] = count
    out.write("}}" if current is not None else "")
    out.write("}}\n")
    return counts


def write_package(
    out: PackageSink,
    *,
    sections: Sequence[PackageSection],
    report: ReportFacts | None,
    kind: PackageKind,
) -> PackageSummary:
    """Write the zip to `out` (left open); what it holds."""
    layout = _Layout(sections)
    encode = json_encoder()
    stamp = dt.datetime.now().timetuple()[:6]
    entries: list[str] = []

    def member(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        entries.append(name)
        return info

    with contextlib.ExitStack() as spools, zipfile.ZipFile(out, "w", allowZip64=True) as archive:
        csvs = {
            section.collection.key: _CsvFile(section, encode, spools.enter_context(SealedSpool()))
            for section in layout.sections
        }
        with (
            archive.open(member(DATA_JSON), "w", force_zip64=True) as raw,
            io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
        ):
            counts = _write_json(text, layout, kind, encode, csvs)
        for section in layout.sections:
            with archive.open(member(layout.csv_path(section)), "w", force_zip64=True) as raw:
                for chunk in csvs[section.collection.key].spool.chunks():
                    raw.write(chunk)
        if kind == "access" and report is not None:
            with archive.open(member(REPORT_HTML), "w") as raw:
                raw.write(render_report(report).encode("utf-8"))
    return PackageSummary(kind=kind, rows=counts, entries=tuple(entries))
