"""A small company database, like Connect IB's CRM and billing, on each engine the tests run on.

Foreign keys, a JSON column (customers.billing_address), a table without a primary key
(customer_contacts), integer keys and a text key (subscribers.email). Sample values are
deliberately odd ("Zebedee", "Sampletown") so that a test can prove none is ever written out.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    text,
)

from opendpo.connectors.sql_engine import database_url

METADATA = MetaData()

organisations = Table(
    "organisations",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200)),
    Column("registration_number", String(20)),
)
contacts = Table(
    "contacts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(254)),
    Column("backup_email", String(254)),
    Column("phone", String(40)),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("job_title", String(100)),
    Column("organisation_id", Integer, ForeignKey("organisations.id")),
    Column("marketing_opt_in", Boolean),
    Column("created_at", DateTime),
)
enquiries = Table(
    "enquiries",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("contact_id", Integer, ForeignKey("contacts.id")),
    Column("message", Text),
    Column("received_at", DateTime),
)
credit_checks = Table(
    "credit_checks",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("organisation_id", Integer, ForeignKey("organisations.id")),
    Column("score", Integer),
    Column("checked_on", Date),
)
customers = Table(
    "customers",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("company_name", String(200)),
    Column("billing_email", String(254)),
    Column("contact", String(254)),  # an unhelpful name: its values say what it holds
    Column("billing_address", JSON),
)
customer_contacts = Table(  # no primary key
    "customer_contacts",
    METADATA,
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("name", String(200)),
    Column("email", String(254)),
    Column("phone", String(40)),
)
invoices = Table(
    "invoices",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("number", String(20)),
    Column("amount", Numeric(10, 2)),
    Column("issued_on", Date),
)
subscribers = Table(  # a text primary key
    "subscribers",
    METADATA,
    Column("email", String(254), primary_key=True),
    Column("first_name", String(100)),
    Column("consent", Boolean),
)

WEBSITE = MetaData()
visits = Table(
    "visits",
    WEBSITE,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("visitor_id", String(64)),
    Column("ip_address", String(45)),
    Column("page", String(200)),
    Column("visited_at", DateTime),
)

NOW = dt.datetime(2026, 11, 2, 9, 30)

ORGANISATIONS = [
    {"id": 1, "name": "Quillfeather Widgets Ltd", "registration_number": "09876543"},
    {"id": 2, "name": "Borrowdale Sprockets Ltd", "registration_number": "01234567"},
]
CONTACTS = [
    {
        "id": i,
        "email": f"person{i}@sample.test",
        "backup_email": "unknown" if i % 2 else "not given",
        "phone": f"+44 7700 9001{i:02d}",
        "first_name": ["Zebedee", "Quentina", "Ermintrude", "Florian"][i % 4],
        "last_name": f"Sampleson{i}",
        "job_title": "Head of Sampling",
        "organisation_id": 1 if i <= 6 else 2,
        "marketing_opt_in": i % 2 == 0,
        "created_at": NOW,
    }
    for i in range(1, 11)
]
ENQUIRIES = [
    {"id": 101, "contact_id": 1, "message": "Please call me back", "received_at": NOW},
    {"id": 102, "contact_id": 1, "message": "Still waiting", "received_at": NOW},
    {"id": 103, "contact_id": 2, "message": "A quote for 40 sprockets", "received_at": NOW},
]
CREDIT_CHECKS = [
    {"id": 1, "organisation_id": 1, "score": 71, "checked_on": dt.date(2026, 10, 1)},
    {"id": 2, "organisation_id": 2, "score": 55, "checked_on": dt.date(2026, 10, 2)},
]
CUSTOMERS: list[dict[str, Any]] = [
    {
        "id": 1,
        "company_name": "Quillfeather Widgets Ltd",
        "billing_email": "accounts@quillfeather.test",
        "contact": "person1@sample.test",
        "billing_address": {
            "street": "1 Sample Street",
            "city": "Sampletown",
            "postcode": "LU2 8DL",
        },
    },
    {
        "id": 2,
        "company_name": "Borrowdale Sprockets Ltd",
        "billing_email": "ledger@borrowdale.test",
        "contact": "person7@sample.test",
        "billing_address": {"street": "2 Sample Lane", "city": "Sampleford", "postcode": "MK9 3XS"},
    },
    {
        "id": 3,
        "company_name": "Empty Address Ltd",
        "billing_email": "empty@address.test",
        "contact": "person9@sample.test",
        "billing_address": None,
    },
]
CUSTOMER_CONTACTS = [
    {"customer_id": 1, "name": "Zebedee Sampleson1", "email": "person1@sample.test", "phone": None},
    {"customer_id": 1, "name": "Ap Payable", "email": "ap@quillfeather.test", "phone": None},
    {"customer_id": 2, "name": "Florian Sampleson7", "email": "person7@sample.test", "phone": None},
]
INVOICES = [
    {
        "id": 501,
        "customer_id": 1,
        "number": "INV-501",
        "amount": decimal.Decimal("120.00"),
        "issued_on": dt.date(2026, 9, 30),
    },
    {
        "id": 502,
        "customer_id": 2,
        "number": "INV-502",
        "amount": decimal.Decimal("80.50"),
        "issued_on": dt.date(2026, 10, 31),
    },
]
SUBSCRIBERS = [
    {"email": "person1@sample.test", "first_name": "Zebedee", "consent": True},
    {"email": "person3@sample.test", "first_name": "Ermintrude", "consent": False},
]
VISITS = [
    {
        "id": i,
        "visitor_id": f"v-{i:04d}-sample",
        "ip_address": f"192.0.2.{i}",
        "page": "/pricing",
        "visited_at": NOW,
    }
    for i in range(1, 6)
]

# Every value written above that is personal data: a draft must contain none of them.
SAMPLE_VALUES = sorted(
    {
        str(value)
        for rows in (CONTACTS, CUSTOMERS, CUSTOMER_CONTACTS, SUBSCRIBERS, VISITS, ENQUIRIES)
        for row in rows
        for key, value in row.items()
        if isinstance(value, str) and key not in ("page",)
    }
    | {v for row in CUSTOMERS if row["billing_address"] for v in row["billing_address"].values()}
)


def engine_for(url: str) -> Engine:
    return create_engine(database_url(url))


def seed(url: str, *, schema: str | None = None) -> None:
    """Create the company tables at `url` (in `schema`) and fill them with the rows above."""
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            if schema is not None:
                connection.execute(text(f"CREATE SCHEMA {schema}"))
                connection = connection.execution_options(schema_translate_map={None: schema})
            METADATA.create_all(connection)
            for table, rows in (
                (organisations, ORGANISATIONS),
                (contacts, CONTACTS),
                (enquiries, ENQUIRIES),
                (credit_checks, CREDIT_CHECKS),
                (customers, CUSTOMERS),
                (customer_contacts, CUSTOMER_CONTACTS),
                (invoices, INVOICES),
                (subscribers, SUBSCRIBERS),
            ):
                connection.execute(table.insert(), rows)
    finally:
        engine.dispose()


def seed_website(url: str) -> None:
    engine = engine_for(url)
    try:
        WEBSITE.create_all(engine)
        with engine.begin() as connection:
            connection.execute(visits.insert(), VISITS)
    finally:
        engine.dispose()


def rows(url: str, table: Table, *order_by: str) -> list[dict[str, Any]]:
    """Every row of `table`, as the tests compare them."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            statement = table.select().order_by(*(table.c[name] for name in order_by))
            return [dict(row._mapping) for row in connection.execute(statement)]
    finally:
        engine.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on SQLite, PostgreSQL (written postgresql://) and MariaDB (mysql://)."""
    if request.param == "sqlite":
        path = tmp_path / "company.db"
        path.touch()
        yield f"sqlite:///{path}"
    elif request.param == "postgresql":
        url: str = request.getfixturevalue("estate_postgres_url")
        yield url.replace("postgresql+psycopg://", "postgresql://", 1)
    else:
        url = request.getfixturevalue("estate_mariadb_url")
        yield url.replace("mysql+pymysql://", "mysql://", 1)


@pytest.fixture
def company_url(empty_url: str) -> str:
    """A seeded company database, on each engine."""
    seed(empty_url)
    return empty_url
