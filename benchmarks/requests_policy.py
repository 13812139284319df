"""The fideslang datasets and the policy `requests.py` applies to OpenDPO's store.

Three systems (shop, support desk, website) on the one estate database. Support and the
website reach the shop's customers through references across datasets, so their find steps
wait for the shop's. The erasure rules: every `user` field nulled, the customer's email
replaced by a keyed hash, logins and newsletter subscriptions deleted, orders and their
items kept for HMRC with only the amounts and products left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "policy_files" / "minimal.yaml"


def _field(name: str, category: str, **meta: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "data_categories": [category]}
    if meta:
        found["fides_meta"] = meta
    return found


def _pk(name: str = "id") -> dict[str, Any]:
    return _field(name, "system.operations", primary_key=True)


def _ref(name: str, dataset: str, target: str) -> dict[str, Any]:
    return _field(
        name,
        "system.operations",
        references=[{"dataset": dataset, "field": target, "direction": "from"}],
    )


def _ops(name: str) -> dict[str, Any]:
    return _field(name, "system.operations")


DATASETS: list[dict[str, Any]] = [
    {"fides_key": "shop", "name": "Shop", "collections": [
        {"name": "customers", "fields": [
            _pk(), _field("email", "user.contact.email", identity="email"),
            _field("first_name", "user.name.first"), _field("last_name", "user.name.last"),
            _field("phone", "user.contact.phone_number"), _ops("created_at")]},
        {"name": "addresses", "fields": [
            _pk(), _ref("customer_id", "shop", "customers.id"),
            _field("street", "user.contact.address.street"),
            _field("city", "user.contact.address.city"),
            _field("postcode", "user.contact.address.postal_code"), _ops("kind")]},
        {"name": "orders", "fields": [
            _pk(), _ref("customer_id", "shop", "customers.id"), _ops("placed_at"),
            _ops("status"), _field("total", "user.behavior.purchase_history"),
            _field("delivery_name", "user.name"),
            _field("delivery_phone", "user.contact.phone_number")]},
        {"name": "order_items", "fields": [
            _pk(), _ref("order_id", "shop", "orders.id"),
            _field("sku", "user.behavior.purchase_history"), _ops("quantity"), _ops("price"),
            _field("gift_message", "user.content.private")]},
        {"name": "payments", "fields": [
            _pk(), _ref("order_id", "shop", "orders.id"), _ops("amount"),
            _field("card_last4", "user.financial.bank_account"),
            _field("cardholder", "user.name"), _ops("paid_at")]},
    ]},
    {"fides_key": "support", "name": "Support desk", "collections": [
        {"name": "tickets", "fields": [
            _pk(), _ref("customer_id", "shop", "customers.id"),
            _field("email", "user.contact.email", identity="email"),
            _field("subject", "user.content.private"), _ops("opened_at")]},
        {"name": "ticket_messages", "fields": [
            _pk(), _ref("ticket_id", "support", "tickets.id"),
            _field("body", "user.content.private"), _ops("sent_at")]},
    ]},
    {"fides_key": "web", "name": "Website", "collections": [
        {"name": "logins", "fields": [
            _pk(), _ref("customer_id", "shop", "customers.id"),
            _field("ip_address", "user.device.ip_address"),
            _field("user_agent", "user.device"), _ops("at")]},
        {"name": "newsletter_subscriptions", "fields": [
            _pk(), _field("email", "user.contact.email", identity="email"), _ops("list"),
            _field("first_name", "user.name.first"), _ops("subscribed_at")]},
    ]},
]  # fmt: skip

SYSTEMS = [("shop", "Shop"), ("support", "Support desk"), ("web", "Website")]

ERASURE: dict[str, Any] = {
    "covers": ["user"],
    "default_strategy": "null",
    "fields": {
        "shop.customers.email": "keyed_hash",
        "web.logins.ip_address": "delete_row",
        "web.newsletter_subscriptions.email": "delete_row",
    },
    "exemptions": [
        {
            "collection": "shop.orders",
            "retention": "contract_records",
            "keep": ["total"],
            "reason": "Orders are accounting records, kept six years for HMRC.",
        },
        {
            "collection": "shop.order_items",
            "retention": "contract_records",
            "keep": ["sku"],
            "reason": "Order lines are accounting records, kept six years for HMRC.",
        },
    ],
}


def write_policy(folder: Path) -> Path:
    """The minimal test policy with the three systems, their datasets and erasure rules."""
    yaml = YAML(typ="safe")
    data = yaml.load(MINIMAL.read_text(encoding="utf-8"))
    data["systems"] = [
        {"key": key, "name": name, "kind": "other", "datasets": [key]} for key, name in SYSTEMS
    ]
    data["dataset"] = DATASETS
    for purpose in data["purposes"]:
        purpose["systems"] = [key for key, _ in SYSTEMS]
    data["rights"]["available"] = [
        {"key": key, "name": key.title(), "description": f"The right of {key}.",
         "routes": ["dpo_email"]}
        for key in ("access", "erasure")
    ]  # fmt: skip
    data["erasure"] = ERASURE
    path = folder / "requests-benchmark.yaml"
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return path
