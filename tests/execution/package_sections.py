"""Sections and sinks for the package tests: rows read again on every call, and a stream
that cannot seek or tell, as a socket or the store's writer looks to zipfile."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from decimal import Decimal

from opendpo.connectors.base import CollectionSpec, FieldSpec, Row
from opendpo.execution.package import PackageSection


class Unseekable:
    """Write-only: no seek, no tell. Counts what it was given."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self.closed = False

    def write(self, data: bytes, /) -> int:
        return self._buffer.write(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def getvalue(self) -> bytes:
        return self._buffer.getvalue()


class Rows:
    """Rows handed out afresh on each call; `calls` says how often they were read."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.calls = 0

    def __call__(self) -> Iterator[Row]:
        self.calls += 1
        yield from (dict(row) for row in self.rows)


CUSTOMERS = CollectionSpec(
    "billing_db",
    "customers",
    (
        FieldSpec("id", ("system.operations",), primary_key=True),
        FieldSpec("billing_email", ("user.contact.email",), identity="email"),
        FieldSpec("billing_address"),
        FieldSpec("billing_address.street", ("user.contact.address.street",)),
        FieldSpec("billing_address.city", ("user.contact.address.city",)),
        FieldSpec("company_name", ("user.contact.organization",)),
        FieldSpec("balance", ("user.financial",)),
        FieldSpec("created_at", ("system.operations",)),
    ),
)
CUSTOMER_FIELDS = (
    "id",
    "billing_email",
    "billing_address.street",
    "billing_address.city",
    "company_name",
    "balance",
    "created_at",
)
CUSTOMER_ROWS: list[Row] = [
    {
        "id": 1,
        "billing_email": "jane@example.com",
        "billing_address": {"street": "1 High St", "city": "Luton", "postcode": "LU1 1AA"},
        "company_name": '=HYPERLINK("http://evil.example")',
        "balance": Decimal("10.50"),
        "created_at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "internal_note": "never packaged",
    },
    {
        "id": 2,
        "billing_email": "jörg@example.de",
        "billing_address": None,
        "company_name": "-1+1",
        "balance": Decimal("-3"),
        "created_at": dt.date(2026, 5, 1),
    },
]

CONTACTS = CollectionSpec(
    "crm_db",
    "contacts",
    (
        FieldSpec("email", ("user.contact.email",), identity="email", primary_key=True),
        FieldSpec("tags", ("user.privacy_preferences",)),
        FieldSpec("score", ("user.behavior",)),
        FieldSpec("active", ("user.privacy_preferences",)),
        FieldSpec("photo", ("user.biometric",)),
    ),
)
CONTACT_ROWS: list[Row] = [
    {
        "email": "@jane",
        "tags": ["news", "events"],
        "score": float("nan"),
        "active": True,
        "photo": b"\x00\xff",
    }
]


def section(
    system: str,
    name: str,
    collection: CollectionSpec,
    fields: tuple[str, ...],
    rows: Callable[[], Iterator[Row]],
) -> PackageSection:
    return PackageSection(system, name, collection, fields, rows)
