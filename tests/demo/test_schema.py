"""The estate's tables are the policy's datasets: same collections, fields, keys and references.

The expectations are derived from policies/connect-ib.yaml as loaded by OpenDPO, so a field
added to the policy and not to the estate (or the other way round) fails here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from estate_reading import assert_database_matches, expected_tables
from fideslang.models import Dataset
from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Numeric, String, Text

from opendpo.demo.estate import build_estate, default_estate_urls
from opendpo.demo.schema import DATASETS, dataset_metadata, estate_metadata
from opendpo.policy.loader import load_policy

ROOT = Path(__file__).resolve().parents[2]


def test_the_estate_has_every_dataset_of_the_policy_and_no_other(
    connect_ib_datasets: list[Dataset],
) -> None:
    policy = load_policy(ROOT / "policies" / "connect-ib.yaml").document
    held = [key for system in policy.systems for key in system.datasets]
    assert sorted(DATASETS) == sorted(d.fides_key for d in connect_ib_datasets) == sorted(held)
    assert set(estate_metadata()) == set(DATASETS)


@pytest.mark.parametrize("dataset_key", DATASETS)
def test_tables_match_the_dataset_collections(
    connect_ib_datasets: list[Dataset], dataset_key: str
) -> None:
    dataset = next(d for d in connect_ib_datasets if d.fides_key == dataset_key)
    expected = expected_tables(dataset)
    metadata = dataset_metadata(dataset_key)
    assert set(metadata.tables) == set(expected)
    for name, want in expected.items():
        table = metadata.tables[name]
        assert {c.name for c in table.columns} == want.columns, name
        assert {c.name for c in table.primary_key.columns} == want.primary_key, name
        foreign_keys = {
            (fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys
        }
        assert foreign_keys == want.foreign_keys, name
        for column in want.json_columns:
            assert isinstance(table.columns[column].type, JSON), f"{name}.{column}"
        indexed = {index.columns.keys()[0] for index in table.indexes}
        assert want.indexed <= indexed, name


def test_the_connect_ib_references_are_real_foreign_keys(
    connect_ib_datasets: list[Dataset],
) -> None:
    # Spelt out, so that a reference dropped from the policy and the schema together shows.
    found = {
        (key, fk.parent.table.name, fk.parent.name, fk.target_fullname)
        for key, metadata in estate_metadata().items()
        for table in metadata.sorted_tables
        for fk in table.foreign_keys
    }
    assert found == {
        ("crm_db", "contacts", "organisation_id", "organisations.id"),
        ("crm_db", "enquiries", "contact_id", "contacts.id"),
        ("crm_db", "quotes", "contact_id", "contacts.id"),
        ("crm_db", "credit_checks", "organisation_id", "organisations.id"),
        ("billing_db", "customer_contacts", "customer_id", "customers.id"),
        ("billing_db", "invoices", "customer_id", "customers.id"),
        ("billing_db", "payments", "invoice_id", "invoices.id"),
        ("billing_db", "deliveries", "invoice_id", "invoices.id"),
    }
    identities = {
        (d.fides_key, c.name, f.name)
        for d in connect_ib_datasets
        for c in d.collections
        for f in c.fields
        if f.fides_meta is not None and f.fides_meta.identity
    }
    assert identities == {
        ("crm_db", "contacts", "email"),
        ("crm_db", "contacts", "phone"),
        ("billing_db", "customers", "billing_email"),
        ("billing_db", "customer_contacts", "email"),
        ("email_platform", "subscribers", "email"),
        ("email_platform", "suppressions", "email"),
        ("website_db", "form_submissions", "email"),
        ("website_db", "visits", "visitor_id"),
    }


def test_column_types_follow_what_the_fields_hold() -> None:
    for metadata in estate_metadata().values():
        for table in metadata.sorted_tables:
            for column in table.columns:
                name, kind = column.name, column.type
                where = f"{table.name}.{name}"
                if name == "id" or (name.endswith("_id") and name != "visitor_id"):
                    assert isinstance(kind, Integer), where
                elif name.endswith("_on"):
                    assert isinstance(kind, Date) and not isinstance(kind, DateTime), where
                elif name.endswith("_at"):
                    assert isinstance(kind, DateTime), where
                elif name == "amount":
                    assert isinstance(kind, Numeric) and kind.scale == 2, where
                elif name in ("marketing_opt_in",):
                    assert isinstance(kind, Boolean), where
                elif name in ("items", "lines", "officers", "consent", "billing_address"):
                    assert isinstance(kind, JSON), where
                else:
                    assert isinstance(kind, String | Text), where


def test_a_built_sqlite_estate_has_the_tables_keys_and_indexes(
    connect_ib_datasets: list[Dataset], tmp_path: Path
) -> None:
    urls = default_estate_urls(tmp_path)
    build_estate(urls, people=0, seed=1, as_of=dt.date(2026, 11, 26))
    for dataset in connect_ib_datasets:
        assert_database_matches(urls[dataset.fides_key], [dataset])
