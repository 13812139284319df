"""The demo estate's tables: Connect IB's four systems as the `dataset:` section describes them.

One table per collection and one column per top-level field, exactly as named in
policies/connect-ib.yaml (tests/demo/test_schema.py fails if the two drift apart). Primary
keys where the dataset marks one, a real FOREIGN KEY for every reference, an index on every
identity and every reference column, and the nested `billing_address` as one JSON column,
as the SQL connector expects to find it.

Table names differ across the four datasets, so all four may share one database.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

CRM = "crm_db"
BILLING = "billing_db"
EMAIL_PLATFORM = "email_platform"
WEBSITE = "website_db"
DATASETS = (CRM, BILLING, EMAIL_PLATFORM, WEBSITE)

EMAIL = 254  # RFC 5321's longest usable address
PHONE = 32
NAME = 100
TITLE = 200
ADDRESS = 300


def _email(name: str = "email", *, primary_key: bool = False) -> Column[str]:
    if primary_key:
        return Column(name, String(EMAIL), primary_key=True)
    return Column(name, String(EMAIL), index=True)


def _crm(metadata: MetaData) -> None:
    Table(
        "organisations",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(TITLE), nullable=False),
        Column("registration_number", String(16)),
        Column("vat_number", String(16)),
        Column("address", String(ADDRESS)),
    )
    Table(
        "contacts",
        metadata,
        Column("id", Integer, primary_key=True),
        _email(),
        Column("phone", String(PHONE), index=True),
        Column("first_name", String(NAME)),
        Column("last_name", String(NAME)),
        Column("job_title", String(TITLE)),
        Column("department", String(NAME)),
        Column("address", String(ADDRESS)),
        # client, order_contact, enquirer or marketing_contact
        Column("relationship", String(32), nullable=False),
        Column("marketing_opt_in", Boolean, nullable=False),
        Column("organisation_id", Integer, ForeignKey("organisations.id"), index=True),
    )
    Table(
        "enquiries",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False, index=True),
        Column("message", Text, nullable=False),
        # The group company's key (policy: controller.group_companies), or NULL if kept here.
        Column("passed_to_group_company", String(32)),
        Column("received_at", DateTime, nullable=False),
    )
    Table(
        "quotes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False, index=True),
        # [{"product", "quantity", "unit_price"}], prices as decimal strings in pounds
        Column("items", JSON, nullable=False),
        Column("issued_on", Date, nullable=False),
    )
    Table(
        "credit_checks",
        metadata,
        Column("id", Integer, primary_key=True),
        Column(
            "organisation_id",
            Integer,
            ForeignKey("organisations.id"),
            nullable=False,
            index=True,
        ),
        Column("officers", JSON, nullable=False),  # the names in the agency's report
        Column("result", String(TITLE), nullable=False),
        Column("checked_on", Date, nullable=False),
    )


def _billing(metadata: MetaData) -> None:
    Table(
        "customers",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("company_name", String(TITLE), nullable=False),
        Column("company_number", String(16)),
        Column("vat_number", String(16)),
        _email("billing_email"),
        Column("billing_address", JSON),  # {"street", "city", "postcode"}
    )
    Table(
        "customer_contacts",
        metadata,
        Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
        Column("name", String(TITLE)),
        _email(),
        Column("phone", String(PHONE)),
        Column("department", String(NAME)),
    )
    Table(
        "invoices",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
        Column("number", String(32), nullable=False, unique=True),
        # [{"description", "quantity", "unit_price", "vat_rate"}], decimals as strings
        Column("lines", JSON, nullable=False),
        Column("issued_on", Date, nullable=False),
    )
    Table(
        "payments",
        metadata,
        Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
        Column("amount", Numeric(12, 2), nullable=False),
        Column("paid_on", Date, nullable=False),
    )
    Table(
        "deliveries",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
        Column("contact_name", String(TITLE)),
        Column("address", String(ADDRESS)),
        Column("phone", String(PHONE)),
        Column("dispatched_on", Date, nullable=False),
    )


def _email_platform(metadata: MetaData) -> None:
    Table(
        "subscribers",
        metadata,
        _email(primary_key=True),
        Column("first_name", String(NAME)),
        Column("last_name", String(NAME)),
        Column("job_title", String(TITLE)),
        Column("company", String(TITLE)),
        Column("consent", JSON, nullable=False),  # {"status", "given_at", "source"}
    )
    Table(
        "suppressions",
        metadata,
        _email(primary_key=True),
        # unsubscribed, consent_withdrawn, hard_bounce or complaint
        Column("reason", String(32), nullable=False),
        Column("suppressed_at", DateTime, nullable=False),
    )


def _website(metadata: MetaData) -> None:
    Table(
        "form_submissions",
        metadata,
        Column("id", Integer, primary_key=True),
        _email(),
        Column("name", String(TITLE)),
        Column("phone", String(PHONE)),
        Column("company", String(TITLE)),
        Column("message", Text),
        Column("marketing_opt_in", Boolean, nullable=False),
        Column("submitted_at", DateTime, nullable=False),
    )
    Table(
        "visits",
        metadata,
        Column("visitor_id", String(36), nullable=False, index=True),
        Column("ip_address", String(45)),  # IPv6 at its longest
        Column("user_agent", String(400)),
        Column("page", String(ADDRESS), nullable=False),
        Column("referrer", String(ADDRESS)),
        Column("visited_at", DateTime, nullable=False),
    )


_BUILDERS = {CRM: _crm, BILLING: _billing, EMAIL_PLATFORM: _email_platform, WEBSITE: _website}


def dataset_metadata(dataset: str) -> MetaData:
    """A fresh MetaData holding one dataset's tables (KeyError for an unknown dataset)."""
    metadata = MetaData()
    _BUILDERS[dataset](metadata)
    return metadata


def estate_metadata() -> dict[str, MetaData]:
    """Every dataset's tables, keyed by the dataset's fides_key."""
    return {dataset: dataset_metadata(dataset) for dataset in DATASETS}
