"""Packages: the exact zip written to a stream that cannot seek, the zip stored encrypted and
read back, and a million rows in bounded memory. Which fields go in: test_package_contents."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from package_policy import connect_ib
from package_requests import make_request
from package_sections import (
    CONTACT_ROWS,
    CONTACTS,
    CUSTOMER_FIELDS,
    CUSTOMER_ROWS,
    CUSTOMERS,
    Rows,
    Unseekable,
    section,
)
from sqlalchemy import Engine

from opendpo.connectors.base import CollectionSpec, FieldSpec, Row
from opendpo.errors import InvalidValue
from opendpo.execution.files import open_writer, read_blocks
from opendpo.execution.package import write_package
from opendpo.execution.report import build_report
from opendpo.execution.report_facts import FoundCollection, RequestFacts
from opendpo.store.engine import make_session_factory

BOM = "\ufeff"


def _zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def test_the_zip_holds_exact_json_and_csvs_and_reads_the_rows_once() -> None:
    customers, contacts = Rows(CUSTOMER_ROWS), Rows(CONTACT_ROWS)
    sink = Unseekable()
    summary = write_package(
        sink,
        sections=[
            section("billing", "Billing", CUSTOMERS, CUSTOMER_FIELDS, customers),
            section(
                "crm", "CRM", CONTACTS, ("email", "tags", "score", "active", "photo"), contacts
            ),
        ],
        report=None,
        kind="portability",
    )
    assert not sink.closed  # the caller's stream is the caller's to close
    assert (customers.calls, contacts.calls) == (1, 1)
    assert summary.rows == {"billing_db.customers": 2, "crm_db.contacts": 1}
    assert summary.total_rows == 3
    assert summary.entries == ("data.json", "billing/customers.csv", "crm/contacts.csv")

    archive = _zip(sink.getvalue())
    assert archive.testzip() is None
    assert archive.namelist() == list(summary.entries)
    assert json.loads(archive.read("data.json")) == {
        "format": "opendpo-package/1",
        "kind": "portability",
        "systems": {
            "billing": {
                "name": "Billing",
                "collections": {
                    "customers": {
                        "dataset": "billing_db",
                        "fields": list(CUSTOMER_FIELDS),
                        "rows": [
                            {
                                "id": 1,
                                "billing_email": "jane@example.com",
                                "billing_address": {"street": "1 High St", "city": "Luton"},
                                "company_name": '=HYPERLINK("http://evil.example")',
                                "balance": "10.50",
                                "created_at": "2026-01-02T03:04:05+00:00",
                            },
                            {
                                "id": 2,
                                "billing_email": "jörg@example.de",
                                "billing_address": {"street": None, "city": None},
                                "company_name": "-1+1",
                                "balance": "-3",
                                "created_at": "2026-05-01",
                            },
                        ],
                    }
                },
            },
            "crm": {
                "name": "CRM",
                "collections": {
                    "contacts": {
                        "dataset": "crm_db",
                        "fields": ["email", "tags", "score", "active", "photo"],
                        "rows": [
                            {
                                "email": "@jane",
                                "tags": ["news", "events"],
                                "score": None,
                                "active": True,
                                "photo": "AP8=",
                            }
                        ],
                    }
                },
            },
        },
    }
    raw = archive.read("billing/customers.csv").decode("utf-8")
    assert raw == (
        BOM + "id,billing_email,billing_address.street,billing_address.city,company_name,"
        "balance,created_at\r\n"
        '1,jane@example.com,1 High St,Luton,"\'=HYPERLINK(""http://evil.example"")",10.50,'
        "2026-01-02T03:04:05+00:00\r\n"
        "2,jörg@example.de,,,'-1+1,-3,2026-05-01\r\n"
    )
    [header, row] = list(csv.reader(io.StringIO(archive.read("crm/contacts.csv").decode())))
    assert header == [BOM + "email", "tags", "score", "active", "photo"]
    assert row == ["'@jane", '["news","events"]', "", "true", "AP8="]


def test_an_access_package_carries_the_report_and_an_empty_one_is_valid() -> None:
    facts = build_report(
        connect_ib(),
        found=[FoundCollection("crm", "crm_db", "contacts", ("user.contact.email",), 1)],
        request=RequestFacts("R-7K2M9QXD", dt.datetime(2026, 9, 3, tzinfo=dt.UTC), ()),
    )
    sink = Unseekable()
    summary = write_package(sink, sections=[], report=facts, kind="access")
    archive = _zip(sink.getvalue())
    assert summary.entries == ("data.json", "report.html")
    assert json.loads(archive.read("data.json")) == {
        "format": "opendpo-package/1",
        "kind": "access",
        "systems": {},
    }
    assert "Your personal data held by Connect IB" in archive.read("report.html").decode()

    portability = Unseekable()
    write_package(portability, sections=[], report=facts, kind="portability")
    assert _zip(portability.getvalue()).namelist() == ["data.json"]


def test_collections_of_the_same_name_in_one_system_are_told_apart() -> None:
    other = CollectionSpec("archive_db", "customers", CUSTOMERS.fields)
    sink = Unseekable()
    summary = write_package(
        sink,
        sections=[
            section("billing", "Billing", CUSTOMERS, ("id",), Rows(CUSTOMER_ROWS)),
            section("crm", "CRM", CONTACTS, ("email",), Rows(CONTACT_ROWS)),
            section("billing", "Billing", other, ("id",), Rows(CUSTOMER_ROWS[:1])),
        ],
        report=None,
        kind="access",
    )
    # Grouped by system for data.json, in the order systems were first given.
    assert summary.entries == (
        "data.json",
        "billing/billing_db.customers.csv",
        "billing/archive_db.customers.csv",
        "crm/contacts.csv",
    )
    data = json.loads(_zip(sink.getvalue()).read("data.json"))
    assert list(data["systems"]["billing"]["collections"]) == [
        "billing_db.customers",
        "archive_db.customers",
    ]
    # Names that only differ in characters unsafe in a path still get a file each.
    odd, plain = (CollectionSpec("web_db", name, CONTACTS.fields) for name in ("a/b", "a_b"))
    renamed = write_package(
        Unseekable(),
        sections=[
            section("web", "Web", odd, ("email",), Rows(CONTACT_ROWS)),
            section("web", "Web", plain, ("email",), Rows(CONTACT_ROWS)),
        ],
        report=None,
        kind="access",
    )
    assert renamed.entries == ("data.json", "web/a_b.csv", "web/a_b-2.csv")
    with pytest.raises(InvalidValue, match=r"billing_db\.customers is given twice"):
        write_package(
            Unseekable(),
            sections=[
                section("billing", "Billing", CUSTOMERS, ("id",), Rows(CUSTOMER_ROWS)),
                section("crm", "CRM", CUSTOMERS, ("id",), Rows(CUSTOMER_ROWS)),
            ],
            report=None,
            kind="access",
        )


def test_json_and_csv_are_made_from_the_same_read_of_the_rows() -> None:
    reads = 0

    def changing() -> Iterator[Row]:  # a second read would see other rows
        nonlocal reads
        reads += 1
        yield from CUSTOMER_ROWS[: 3 - reads]

    sink = Unseekable()
    summary = write_package(
        sink,
        sections=[section("billing", "Billing", CUSTOMERS, ("id",), changing)],
        report=None,
        kind="access",
    )
    assert reads == 1 and summary.rows == {"billing_db.customers": 2}
    archive = _zip(sink.getvalue())
    listed = json.loads(archive.read("data.json"))["systems"]["billing"]["collections"]
    assert listed["customers"]["rows"] == [{"id": 1}, {"id": 2}]
    assert archive.read("billing/customers.csv").decode("utf-8-sig") == "id\r\n1\r\n2\r\n"


def test_values_the_fast_encoder_refuses_are_still_written_exactly() -> None:
    # Integers beyond 64 bits and keys that are not strings: orjson refuses them, `json`
    # writes them; a row with a NaN is walked for it on that path.
    documents = CollectionSpec(
        "crm_db",
        "documents",
        (FieldSpec("id", ("system.operations",), primary_key=True), FieldSpec("doc")),
    )
    rows: list[Row] = [
        {"id": 2**70, "doc": {"a": 1}},
        {"id": 2, "doc": {7: "seven", "score": float("inf")}},
        {"id": 3, "doc": {"at": dt.date(2026, 1, 2), "score": float("nan")}},
    ]
    sink = Unseekable()
    write_package(
        sink,
        sections=[section("crm", "CRM", documents, ("id", "doc"), Rows(rows))],
        report=None,
        kind="access",
    )
    archive = _zip(sink.getvalue())
    given = json.loads(archive.read("data.json"))["systems"]["crm"]["collections"]["documents"]
    assert given["rows"] == [
        {"id": 2**70, "doc": {"a": 1}},
        {"id": 2, "doc": {"7": "seven", "score": None}},
        {"id": 3, "doc": {"at": "2026-01-02", "score": None}},
    ]
    [_, first, second, third] = list(
        csv.reader(io.StringIO(archive.read("crm/documents.csv").decode("utf-8-sig")))
    )
    assert first == [str(2**70), '{"a":1}']
    assert second == ["2", '{"7":"seven","score":null}']
    assert third == ["3", '{"at":"2026-01-02","score":null}']


def test_a_package_stored_encrypted_reads_back_as_the_same_zip(engine: Engine) -> None:
    factory = make_session_factory(engine)
    request_id, reference = make_request(engine)
    rows = [dict(CUSTOMER_ROWS[0], id=number) for number in range(3000)]
    with open_writer(
        session_factory=factory,
        request_id=request_id,
        purpose="access_package",
        name=f"{reference}.zip",
        content_type="application/zip",
        block_size=4096,
    ) as writer:
        summary = write_package(
            writer,
            sections=[section("billing", "Billing", CUSTOMERS, CUSTOMER_FIELDS, Rows(rows))],
            report=None,
            kind="access",
        )
    stored = b"".join(read_blocks(session_factory=factory, file_id=writer.file_id))
    assert len(stored) == writer.tell() > 4 * 4096  # several blocks
    archive = _zip(stored)
    assert archive.testzip() is None
    assert archive.namelist() == list(summary.entries)
    lines = archive.read("billing/customers.csv").decode("utf-8-sig").splitlines()
    assert len(lines) == 3001 and lines[-1].startswith("2999,jane@example.com,1 High St")


def _package_peak(tmp_path: Path, count: int) -> int:
    """Peak Python memory while packaging `count` rows (the rows themselves cost nothing)."""
    visits = CollectionSpec(
        "website_db", "visits", (FieldSpec("page", ("user.behavior.browsing_history",)),)
    )
    row = {"page": "/pricing"}

    def generated() -> Iterator[Row]:
        for _ in range(count):
            yield row

    target = tmp_path / f"package-{count}.zip"
    tracemalloc.start()
    try:
        with target.open("wb") as out:
            summary = write_package(
                out,
                sections=[section("website", "Website", visits, ("page",), generated)],
                report=None,
                kind="portability",
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.rows == {"website_db.visits": count}
    with zipfile.ZipFile(target) as archive, archive.open("website/visits.csv") as lines:
        assert sum(1 for _ in lines) == count + 1
    return peak


def test_packaging_memory_does_not_grow_with_the_rows(tmp_path: Path) -> None:
    # Ten times the rows, the same memory: the export streams. (The million-row figure is
    # measured by benchmarks/export_memory.py.)
    small, large = _package_peak(tmp_path, 15_000), _package_peak(tmp_path, 150_000)
    assert large < small * 1.5 + 256 * 1024, (small, large)
