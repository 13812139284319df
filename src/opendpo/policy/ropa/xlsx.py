"""The records as an Excel workbook: a "Controller" sheet and a "Processing activities" sheet."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from opendpo.policy.ropa.records import RecordsOfProcessing
from opendpo.policy.ropa.table import (
    ACTIVITY_COLUMNS,
    activity_header,
    activity_rows,
    controller_rows,
)

CONTROLLER_SHEET = "Controller"
ACTIVITIES_SHEET = "Processing activities"
_HEADER_FONT = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


def write_xlsx(records: RecordsOfProcessing, out: BinaryIO) -> None:
    """Write the workbook to `out`; the same records always give the same bytes."""
    workbook = Workbook()
    controller_sheet = workbook.active
    assert isinstance(controller_sheet, Worksheet)
    controller_sheet.title = CONTROLLER_SHEET
    _fill(controller_sheet, ["Field", "Value"], controller_rows(records), [36, 90], "B2")

    activities = workbook.create_sheet(ACTIVITIES_SHEET)
    widths = [column.width for column in ACTIVITY_COLUMNS]
    # Keep the header row and the purpose's key and name in view while scrolling.
    _fill(activities, activity_header(), activity_rows(records), widths, "C2")

    # Stamp the workbook with the records' time, not the wall clock, so output is reproducible.
    stamp = records.generated_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    workbook.properties.creator = "OpenDPO"
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).write_data()
    _repack(buffer.getvalue(), out, stamp)


def _fill(
    sheet: Worksheet,
    header: list[str],
    rows: Iterable[Sequence[str]],
    widths: list[int],
    freeze: str,
) -> None:
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = _HEADER_FONT
        cell.alignment = _WRAP
    for row in rows:
        sheet.append(list(row))
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = _WRAP
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = freeze
    sheet.auto_filter.ref = sheet.dimensions


def _repack(data: bytes, out: BinaryIO, stamp: dt.datetime) -> None:
    """Copy the archive entry by entry with a fixed timestamp (zip entries carry the time)."""
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(entry))
