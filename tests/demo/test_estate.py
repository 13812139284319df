"""Building the demo estate on SQLite files: deterministic, Jane Example everywhere, foreign
keys holding, people overlapping across systems, and never overwriting by accident."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import sqlite3
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from estate_cases import AS_OF, COUNTS, PEOPLE, SEED
from estate_reading import connected, count_rows, read_table
from sqlalchemy import text

from opendpo.demo.estate import (
    EstateError,
    EstateExists,
    EstateSummary,
    build_estate,
    default_estate_urls,
)
from opendpo.demo.jane import jane_rows
from opendpo.demo.schema import DATASETS, dataset_metadata
from opendpo.errors import InvalidValue

JANE_EMAIL = "jane@example.com"
JANE_DIGITS = "7700900123"
EMAIL_COLUMNS = {
    "crm_db.contacts": ("email",),
    "billing_db.customers": ("billing_email",),
    "billing_db.customer_contacts": ("email",),
    "email_platform.subscribers": ("email",),
    "email_platform.suppressions": ("email",),
    "website_db.form_submissions": ("email",),
}
PHONE_COLUMNS = {
    "crm_db.contacts": "phone",
    "billing_db.customer_contacts": "phone",
    "billing_db.deliveries": "phone",
    "website_db.form_submissions": "phone",
}
# Ofcom's drama ranges, as digits after the leading 0 or +44.
DRAMA = re.compile(
    r"^(1(1[3-8]|21|31|41|51|61)4960\d{3}|2079460\d{3}|1914980\d{3}|2896496\d{3}"
    r"|2920180\d{3}|1632960\d{3}|7700900\d{3})$"
)


def build(urls: dict[str, str], **options: object) -> EstateSummary:
    arguments: dict[str, object] = {"people": PEOPLE, "seed": SEED, "as_of": AS_OF}
    arguments.update(options)
    return build_estate(urls, **arguments)  # type: ignore[arg-type]


def url_of(urls: dict[str, str], table_key: str) -> str:
    return urls[table_key.partition(".")[0]]


def phone_digits(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return digits[2:] if value.startswith("+44") else digits.removeprefix("0")


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], EstateSummary]:
    """One estate, built once for the read-only tests of this module."""
    urls = default_estate_urls(tmp_path_factory.mktemp("estate"))
    return urls, build(urls)


def test_default_urls_are_sqlite_files_under_var_estate() -> None:
    assert default_estate_urls(Path("var")) == {
        "crm_db": "sqlite:///var/estate/crm.db",
        "billing_db": "sqlite:///var/estate/billing.db",
        "email_platform": "sqlite:///var/estate/email_platform.db",
        "website_db": "sqlite:///var/estate/website.db",
    }
    assert default_estate_urls(Path("/srv/opendpo/var"))["crm_db"] == (
        "sqlite:////srv/opendpo/var/estate/crm.db"
    )


def test_counts_are_exact_for_a_seed(estate: tuple[dict[str, str], EstateSummary]) -> None:
    urls, summary = estate
    assert dict(summary.counts) == COUNTS
    assert summary.total_rows == sum(COUNTS.values())
    assert (summary.people, summary.seed, summary.as_of) == (PEOPLE, SEED, AS_OF)
    for table, count in COUNTS.items():
        assert count_rows(url_of(urls, table), table) == count, table


def test_the_same_seed_builds_the_same_estate_row_for_row(
    estate: tuple[dict[str, str], EstateSummary], tmp_path: Path
) -> None:
    urls, _ = estate
    again = default_estate_urls(tmp_path / "again")
    build(again)
    for table in COUNTS:
        assert read_table(url_of(again, table), table) == read_table(url_of(urls, table), table)
    other = default_estate_urls(tmp_path / "other")
    different = build(other, seed=SEED + 1)
    assert dict(different.counts) != COUNTS
    assert (
        read_table(other["crm_db"], "crm_db.contacts")[1:]
        != (read_table(urls["crm_db"], "crm_db.contacts")[1:])
    )


def test_jane_has_the_documented_rows_in_every_system(
    estate: tuple[dict[str, str], EstateSummary],
) -> None:
    urls, summary = estate
    assert {table: len(rows) for table, rows in summary.jane.items()} == {
        "crm_db.organisations": 1,
        "crm_db.contacts": 1,
        "crm_db.enquiries": 2,
        "crm_db.quotes": 1,
        "crm_db.credit_checks": 1,
        "billing_db.customers": 1,
        "billing_db.customer_contacts": 1,
        "billing_db.invoices": 2,
        "billing_db.payments": 2,
        "billing_db.deliveries": 1,
        "email_platform.subscribers": 1,
        "email_platform.suppressions": 0,
        "website_db.form_submissions": 1,
        "website_db.visits": 4,
    }
    assert summary.jane["crm_db.contacts"] == (
        {
            "id": 1,
            "email": "jane@example.com",
            "phone": "+44 7700 900123",
            "first_name": "Jane",
            "last_name": "Example",
            "job_title": "Managing Director",
            "department": "Executive",
            "address": "1 Example Street, Luton, LU1 1AA",
            "relationship": "client",
            "marketing_opt_in": True,
            "organisation_id": 1,
        },
    )
    assert summary.jane["billing_db.customers"] == (
        {
            "id": 1,
            "company_name": "Example Trading Ltd",
            "company_number": "09900123",
            "vat_number": "GB990012300",
            "billing_email": "jane@example.com",
            "billing_address": {
                "street": "1 Example Street",
                "city": "Luton",
                "postcode": "LU1 1AA",
            },
        },
    )
    assert summary.jane["billing_db.payments"] == (
        {"invoice_id": 1, "amount": Decimal("1964.40"), "paid_on": dt.date(2026, 4, 10)},
        {"invoice_id": 2, "amount": Decimal("576.00"), "paid_on": dt.date(2026, 10, 14)},
    )
    assert summary.jane["email_platform.subscribers"][0]["consent"] == {
        "status": "opted_in",
        "given_at": "2026-03-02T09:13:58Z",
        "source": "website enquiry form",
    }
    assert [(v["page"], v["visited_at"]) for v in summary.jane["website_db.visits"]] == [
        ("/", dt.datetime(2026, 3, 2, 9, 5, 12)),
        ("/visitor-management", dt.datetime(2026, 3, 2, 9, 7, 40)),
        ("/contact", dt.datetime(2026, 3, 2, 9, 11, 3)),
        ("/support", dt.datetime(2026, 9, 15, 13, 58, 21)),
    ]
    assert {v["visitor_id"] for v in summary.jane["website_db.visits"]} == {
        "6f1c2a7e-3b9d-4e58-a0c4-9d2e7b900123"
    }
    assert {table: list(rows) for table, rows in summary.jane.items()} == jane_rows()
    # What the databases hold is exactly that, value for value and type for type.
    for table, rows in summary.jane.items():
        stored = read_table(url_of(urls, table), table)
        for row in rows:
            assert row in stored, table


def test_nobody_else_shares_janes_email_phone_or_visitor_id(
    estate: tuple[dict[str, str], EstateSummary],
) -> None:
    urls, summary = estate
    for table, columns in EMAIL_COLUMNS.items():
        rows = read_table(url_of(urls, table), table)
        hers = [r for r in rows if any((r[c] or "").lower() == JANE_EMAIL for c in columns)]
        assert hers == list(summary.jane[table]), table
    for table, column in PHONE_COLUMNS.items():
        rows = read_table(url_of(urls, table), table)
        hers = [r for r in rows if r[column] and phone_digits(r[column]) == JANE_DIGITS]
        assert hers == list(summary.jane[table]), table
    visits = read_table(urls["website_db"], "website_db.visits")
    hers = [v for v in visits if v["visitor_id"] == "6f1c2a7e-3b9d-4e58-a0c4-9d2e7b900123"]
    assert sorted(hers, key=lambda v: v["visited_at"]) == list(summary.jane["website_db.visits"])


def test_foreign_keys_hold_in_every_file(estate: tuple[dict[str, str], EstateSummary]) -> None:
    urls, _ = estate
    for url in urls.values():
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_people_overlap_across_systems_and_some_are_in_only_one(
    estate: tuple[dict[str, str], EstateSummary],
) -> None:
    urls, _ = estate
    spellings: dict[str, list[str]] = defaultdict(list)
    for table, columns in EMAIL_COLUMNS.items():
        for row in read_table(url_of(urls, table), table):
            spellings[table.partition(".")[0]] += [row[c] for c in columns if row[c]]
    systems = {dataset: {e.lower() for e in found} for dataset, found in spellings.items()}
    crm, billing = systems["crm_db"], systems["billing_db"]
    email, website = systems["email_platform"], systems["website_db"]
    assert len(crm & billing & email & website) == 21
    assert len(crm - billing - email - website) == 12
    assert len(billing - crm - email - website) == 19
    assert len(email - crm - billing - website) == 1
    # The CRM and the email platform keep addresses in lower case; people type capitals.
    assert all(e == e.lower() for e in spellings["crm_db"] + spellings["email_platform"])
    typed = [e for e in spellings["billing_db"] + spellings["website_db"] if e != e.lower()]
    assert len(typed) == 41
    assert all(e.lower() in crm | email for e in typed)


def test_identities_are_unique_and_reserved_for_examples(
    estate: tuple[dict[str, str], EstateSummary],
) -> None:
    urls, _ = estate
    contacts = read_table(urls["crm_db"], "crm_db.contacts")
    assert len({c["email"] for c in contacts}) == len(contacts)
    assert len({phone_digits(c["phone"]) for c in contacts}) == len(contacts)
    for table, columns in EMAIL_COLUMNS.items():
        for row in read_table(url_of(urls, table), table):
            for column in columns:
                domain = row[column].rpartition("@")[2].lower()
                assert domain.endswith(".example") or domain in (
                    "example.com",
                    "example.net",
                    "example.org",
                ), row[column]
    for table, column in PHONE_COLUMNS.items():
        for row in read_table(url_of(urls, table), table):
            if row[column] is not None:
                assert DRAMA.match(phone_digits(row[column])), row[column]
    for visit in read_table(urls["website_db"], "website_db.visits"):
        address = ipaddress.ip_address(visit["ip_address"])
        assert address.is_global or visit["ip_address"] == "203.0.113.45"


def test_collections_without_a_primary_key_have_no_duplicate_rows(
    estate: tuple[dict[str, str], EstateSummary],
) -> None:
    # A change to such a row names it by every field: two equal rows could not be told apart.
    urls, _ = estate
    for table in ("billing_db.customer_contacts", "billing_db.payments", "website_db.visits"):
        rows = [tuple(r.values()) for r in read_table(url_of(urls, table), table)]
        assert len(set(rows)) == len(rows) == COUNTS[table]


def test_payments_settle_their_invoices_and_nothing_is_dated_after_the_build(
    estate: tuple[dict[str, str], EstateSummary],
) -> None:
    urls, _ = estate
    billing = urls["billing_db"]
    invoices = {i["id"]: i for i in read_table(billing, "billing_db.invoices")}
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for payment in read_table(billing, "billing_db.payments"):
        paid[payment["invoice_id"]] += payment["amount"]
        assert payment["paid_on"] >= invoices[payment["invoice_id"]]["issued_on"]
        assert payment["paid_on"] <= AS_OF
    settled = 0
    for invoice_id, amount in paid.items():
        lines = invoices[invoice_id]["lines"]
        net = sum(Decimal(line["unit_price"]) * line["quantity"] for line in lines)
        total = (net * Decimal("1.20")).quantize(Decimal("0.01"))
        # Paid in full, or the first of two instalments so far.
        assert amount in (total, (total / 2).quantize(Decimal("0.01"))), invoice_id
        settled += amount == total
    assert (len(invoices), len(paid), settled) == (141, 131, 131)
    earliest = AS_OF - dt.timedelta(days=7 * 365)
    for table in COUNTS:
        for row in read_table(url_of(urls, table), table):
            for value in row.values():
                if isinstance(value, dt.date):
                    day = value.date() if isinstance(value, dt.datetime) else value
                    assert earliest <= day <= AS_OF, (table, row)


def test_refuses_to_overwrite_an_estate_unless_told_to_replace_it(tmp_path: Path) -> None:
    urls = default_estate_urls(tmp_path)
    build(urls)
    with pytest.raises(EstateExists) as raised:
        build(urls, seed=SEED + 1)
    assert raised.value.existing == {
        dataset: sorted(dataset_metadata(dataset).tables) for dataset in DATASETS
    }
    assert "crm_db (sqlite:///" in raised.value.message
    assert "contacts, credit_checks, enquiries, organisations, quotes" in raised.value.message
    assert count_rows(urls["crm_db"], "crm_db.contacts") == COUNTS["crm_db.contacts"]

    replaced = build(urls, seed=SEED, people=20, replace=True)
    assert count_rows(urls["crm_db"], "crm_db.contacts") == replaced.counts["crm_db.contacts"]
    assert replaced.counts["crm_db.contacts"] < COUNTS["crm_db.contacts"]


def test_refuses_when_any_estate_table_is_there_and_creates_nothing(tmp_path: Path) -> None:
    urls = default_estate_urls(tmp_path)
    (tmp_path / "estate").mkdir()
    with connected(urls["website_db"]) as connection:
        connection.execute(text("CREATE TABLE visits (visitor_id TEXT)"))
        connection.commit()
    with pytest.raises(EstateExists) as raised:
        build(urls)
    assert raised.value.existing == {"website_db": ["visits"]}
    for dataset in ("crm_db", "billing_db", "email_platform"):
        with connected(urls[dataset]) as connection:
            tables = connection.execute(text("SELECT name FROM sqlite_master")).all()
        assert tables == [], dataset


def test_reports_progress_in_people(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    build(default_estate_urls(tmp_path), progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, PEOPLE)
    assert calls[-1] == (PEOPLE, PEOPLE)
    assert {total for _, total in calls} == {PEOPLE}
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done) > 50


def test_an_interrupted_build_leaves_no_tables_behind(tmp_path: Path) -> None:
    urls = default_estate_urls(tmp_path)

    def interrupt(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(urls, progress=interrupt)
    for url in urls.values():
        with connected(url) as connection:
            assert connection.execute(text("SELECT name FROM sqlite_master")).all() == []
    assert dict(build(urls).counts) == COUNTS


def test_a_failed_replace_keeps_the_estate_it_was_replacing(tmp_path: Path) -> None:
    urls = default_estate_urls(tmp_path)
    build(urls)

    def interrupt(done: int, total: int) -> None:
        if done > total // 2:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        build(urls, seed=SEED + 1, replace=True, progress=interrupt)
    for table, count in COUNTS.items():
        assert count_rows(url_of(urls, table), table) == count, table


def test_builds_only_the_datasets_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm-only.db'}"
    summary = build({"crm_db": url})
    crm = {k: v for k, v in COUNTS.items() if k.startswith("crm_db.")}
    assert dict(summary.counts) == crm
    assert set(summary.jane) == set(crm)
    assert count_rows(url, "crm_db.contacts") == COUNTS["crm_db.contacts"]


def test_datasets_may_share_one_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'all.db'}"
    summary = build(dict.fromkeys(DATASETS, url))
    assert dict(summary.counts) == COUNTS
    for table, count in COUNTS.items():
        assert count_rows(url, table) == count


@pytest.mark.parametrize(
    ("urls", "people", "field"),
    [
        ({"crm_db": "sqlite://"}, -1, "people"),
        ({}, 10, "urls"),
        ({"crm": "sqlite://"}, 10, "urls"),
        ({"crm_db": "not a url"}, 10, "urls.crm_db"),
    ],
)
def test_bad_input_names_the_field(urls: dict[str, str], people: int, field: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        build_estate(urls, people=people, seed=1)
    assert raised.value.field == field


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    url = "postgresql+psycopg://estate:s3cret-pw@127.0.0.1:1/estate"
    with pytest.raises(EstateError) as raised:
        build_estate({"crm_db": url}, people=1, seed=1)
    message = raised.value.message
    assert message.startswith("postgresql+psycopg://estate:***@127.0.0.1:1/estate: ")
    assert "s3cret-pw" not in message
    assert "\n" not in message


def test_ten_thousand_people_build_in_a_few_seconds(tmp_path: Path) -> None:
    # CPU time of this process, which does all the work (SQLite runs in it): the machine's
    # other load does not count against the build.
    started = time.process_time()
    summary = build_estate(default_estate_urls(tmp_path), people=10_000, seed=1, as_of=AS_OF)
    elapsed = time.process_time() - started
    assert summary.counts["crm_db.contacts"] == 9_255
    assert summary.total_rows == 113_671
    # About 3.5 s on a 2-core development machine; the bound leaves room for slower ones.
    assert elapsed < 10, f"{elapsed:.1f}s"
