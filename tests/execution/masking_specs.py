"""Collections, keys and policies the masking tests plan erasures for."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fideslang.models import Dataset
from ruamel.yaml import YAML

from opendpo.connectors.base import CollectionSpec, FieldSpec, dataset_specs
from opendpo.execution.masking import MaskContext
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.erasure import Erasure
from opendpo.security.keyring import Keyring

ROOT = Path(__file__).resolve().parents[2]
# The suite's fixed test keys (tests/conftest.py): outputs below are worked out under them.
KEYRING = Keyring(
    encryption_keys={"t1": bytes(range(32))}, active_key_id="t1", mac_key=bytes(range(100, 132))
)


# Worked out apart from OpenDPO: SHA-256 of "jane@example.com", and HMAC-SHA-256 of it under
# HMAC(mac_key, "opendpo:erasure").
SHA_JANE = "8c87b489ce35cf2e2f39f80e282cb2e804932a56a213983eeeb428407d43b52d"
KEYED_JANE = "cc05dfe0322ddbd0f5df0f49f67267b6f2046323c1e9d03d4056b648352aabd5"


def context(request_id: str = "req-1") -> MaskContext:
    return MaskContext.create(request_id=request_id, keyring=KEYRING)


def erasure(**section: Any) -> Erasure:
    return Erasure.model_validate(section)


CUSTOMERS = CollectionSpec(
    "shop_db",
    "customers",
    (
        FieldSpec("id", ("system.operations",), primary_key=True, data_type="integer"),
        FieldSpec("email", ("user.contact.email",), identity="email"),
        FieldSpec("first_name", ("user.name.first",)),
        FieldSpec("last_name", ("user.name.last",)),
        FieldSpec("age", ("user.demographic.age_range",), data_type="integer"),
        FieldSpec("loyalty_code", ("user.unique_id",), read_only=True),
        FieldSpec("opted_in", ("user.privacy_preferences",), data_type="boolean"),
        FieldSpec("address"),
        FieldSpec("address.street", ("user.contact.address.street",)),
        FieldSpec("address.city", ("user.contact.address.city",)),
        FieldSpec("address.country", ("system.operations",)),
    ),
)

INVOICES = CollectionSpec(
    "shop_db",
    "invoices",
    (
        FieldSpec("id", ("system.operations",), primary_key=True),
        FieldSpec(
            "customer_id",
            ("system.operations",),
            references=(("shop_db", "customers", "id", "from"),),
        ),
        FieldSpec("number", ("system.operations",)),
        FieldSpec("issued_on", ("system.operations",)),
        FieldSpec("lines", ("user.behavior.purchase_history",)),
        FieldSpec("billing_name", ("user.name",)),
        FieldSpec("billing_email", ("user.contact.email",)),
        FieldSpec("billing_phone", ("user.contact.phone_number",)),
    ),
)

# No primary key: a change names its row by every field read.
SIGNUPS = CollectionSpec(
    "shop_db",
    "signups",
    (
        FieldSpec("email", ("user.contact.email",), identity="email"),
        FieldSpec("source", ("system.operations",)),
    ),
)

JANE: dict[str, Any] = {
    "id": 1,
    "email": "jane@example.com",
    "first_name": "Jane",
    "last_name": "Example",
    "age": 41,
    "loyalty_code": "JE-0001",
    "opted_in": True,
    "address": {"street": "1 Example Street", "city": "Luton", "country": "GB"},
}
JOHN: dict[str, Any] = {
    "id": 2,
    "email": "john@example.com",
    "first_name": "John",
    "last_name": None,
    "age": None,
    "loyalty_code": None,
    "opted_in": None,
    "address": None,
}
INVOICE: dict[str, Any] = {
    "id": 7,
    "customer_id": 1,
    "number": "INV-0007",
    "issued_on": "2026-03-16",
    "lines": [{"description": "Kiosk", "quantity": 1, "unit_price": "449.00"}],
    "billing_name": "Jane Example",
    "billing_email": "jane@example.com",
    "billing_phone": None,
}


def fides_dataset(text: str) -> list[CollectionSpec]:
    """The collections of a dataset written in the Fides format (YAML, one dataset)."""
    return dataset_specs(Dataset.model_validate(YAML(typ="safe").load(text)))


@cache
def connect_ib() -> PolicyDocument:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document


def connect_ib_collections() -> list[CollectionSpec]:
    return [spec for dataset in connect_ib().dataset for spec in dataset_specs(dataset)]
