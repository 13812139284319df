"""CSV, spreadsheet, HTML and JSON exports of the records of processing."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest
from openpyxl import load_workbook

from opendpo.policy.ropa.formats import FORMATS
from opendpo.policy.ropa.html import render_ropa_html, write_html
from opendpo.policy.ropa.records import RecordsOfProcessing
from opendpo.policy.ropa.table import activity_header


def exported(records: RecordsOfProcessing, format_name: str) -> bytes:
    out = io.BytesIO()
    FORMATS[format_name].write(records, out)
    return out.getvalue()


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_same_records_give_the_same_bytes(
    rich_records: RecordsOfProcessing, format_name: str
) -> None:
    first = exported(rich_records, format_name)
    assert first and first == exported(rich_records, format_name)
    later = dataclasses.replace(
        rich_records, generated_at=rich_records.generated_at.replace(year=2027)
    )
    # The time comes from the records, never the clock; CSV rows carry no time at all.
    assert (exported(later, format_name) != first) == (format_name != "csv")


def test_csv_lists_every_purpose_with_basis_recipients_and_retention(
    rich_records: RecordsOfProcessing,
) -> None:
    text = exported(rich_records, "csv").decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == activity_header()
    rows = {row["Purpose key"]: row for row in reader}
    assert list(rows) == [a.key for a in rich_records.activities]
    marketing = rows["marketing_email"]
    assert marketing["Lawful basis (Art 6(1))"] == "Consent (Art 6(1)(a))"
    assert marketing["Categories of recipients (Art 30(1)(d))"] == (
        "Mail Platform Inc (processor, US); CRM Hosting Ltd (processor, IE)"
    )
    assert marketing["Third countries (Art 30(1)(d))"] == "IE; US"
    assert marketing["Retention limits (Art 30(1)(f))"] == (
        "Marketing contacts: 2 years from the last contact, then delete"
    )
    assert marketing["Direct marketing"] == "yes"
    contracts = rows["client_contracts"]
    assert contracts["Categories of recipients (Art 30(1)(d))"].startswith(
        "Courier (courier, controller, GB)"
    )
    assert "then delete — HMRC" in contracts["Retention limits (Art 30(1)(f))"]
    assert contracts["Controller (Art 30(1)(a))"].startswith("Example Widgets Ltd")
    assert "dpo@example.co.uk" in contracts["Data protection officer (Art 30(1)(a))"]
    assert rows["accessibility"]["Legitimate interests"].startswith(
        "Interest: Serving every client contact well.; Necessity:"
    )
    assert text.endswith("\r\n")


def test_xlsx_has_controller_and_activity_sheets(rich_records: RecordsOfProcessing) -> None:
    workbook = load_workbook(io.BytesIO(exported(rich_records, "xlsx")))
    assert workbook.sheetnames == ["Controller", "Processing activities"]

    controller = {row[0]: row[1] for row in workbook["Controller"].iter_rows(values_only=True)}
    assert controller["Field"] == "Value"
    assert controller["Controller (Art 30(1)(a))"] == "Example Widgets Ltd"
    assert controller["DPO email"] == "dpo@example.co.uk"
    assert controller["Policy version"] == "3"

    sheet = workbook["Processing activities"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == activity_header()
    assert [row[0] for row in rows[1:]] == [a.key for a in rich_records.activities]
    basis = activity_header().index("Lawful basis (Art 6(1))")
    assert rows[2][basis] == "Consent (Art 6(1)(a))"
    assert sheet.freeze_panes == "C2"
    assert sheet["A1"].font.bold
    assert sheet.column_dimensions["C"].width == 50


def test_html_page_is_standalone_and_printable(rich_records: RecordsOfProcessing) -> None:
    page = render_ropa_html(rich_records)
    assert page.startswith("<!DOCTYPE html>")
    for activity in rich_records.activities:
        assert f'id="purpose-{activity.key}"' in page
        assert activity.name in page
    assert "Consent (Art 6(1)(a))" in page
    assert "UK Addendum to the EU standard contractual clauses" in page
    assert "@media print" in page
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<link" not in lowered and " src=" not in lowered  # no external assets
    out = io.StringIO()
    write_html(rich_records, out)
    assert out.getvalue() == page


def test_html_fragment_for_the_console(rich_records: RecordsOfProcessing) -> None:
    fragment = render_ropa_html(rich_records, standalone=False)
    assert fragment.lstrip().startswith('<section class="ropa"')
    assert fragment.rstrip().endswith("</section>")
    assert "<html" not in fragment and "<style" not in fragment
    # Embedded under the console's own <h1>, the records start at <h2>.
    assert '<h2 id="ropa-title">' in fragment and "<h1" not in fragment


def test_html_escapes_policy_text(rich_records: RecordsOfProcessing) -> None:
    first = rich_records.activities[0]
    hostile = dataclasses.replace(first, name="<script>alert(1)</script>")
    records = dataclasses.replace(rich_records, activities=(hostile, *rich_records.activities[1:]))
    page = render_ropa_html(records)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_json_is_the_records_as_plain_data(rich_records: RecordsOfProcessing) -> None:
    data = json.loads(exported(rich_records, "json"))
    assert (data["format"], data["format_version"]) == ("opendpo.ropa", 1)
    assert data["generated_at"] == "2026-03-02T09:30:00+00:00"
    assert data["controller"]["dpo"]["email"] == "dpo@example.co.uk"
    activities = {a["key"]: a for a in data["activities"]}
    marketing = activities["marketing_email"]
    assert marketing["lawful_basis"]["article"] == "Art 6(1)(a)"
    assert marketing["third_countries"] == ["IE", "US"]
    assert [t["mechanism"] for t in marketing["transfers"]] == ["uk_addendum", "adequacy"]
    assert activities["client_contracts"]["retention"][0]["period"] == "P6Y"
