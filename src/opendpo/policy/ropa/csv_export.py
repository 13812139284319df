"""The records as CSV: a header row, then one row per processing activity."""

from __future__ import annotations

import csv
from typing import TextIO

from opendpo.policy.ropa.records import RecordsOfProcessing
from opendpo.policy.ropa.table import activity_header, activity_rows


def write_csv(records: RecordsOfProcessing, out: TextIO) -> None:
    """Write to `out` row by row; open files with newline="" as the csv module expects."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(activity_header())
    for row in activity_rows(records):
        writer.writerow(row)
