"""A website's Redis cache as a fideslang dataset, and a connector to it with every key under a
test's prefix: sessions (hashes), carts (JSON strings), tokens (plain strings), a newsletter
set, leaderboards (sorted sets), recently viewed products (lists), and CRM contacts keyed by
id with the email inside the hash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fideslang.models import Dataset

from opendpo.connectors.base import CollectionSpec, dataset_specs
from opendpo.connectors.redis_keys import RedisConnection, RedisConnector


def _field(name: str, category: str = "system.operations", **meta: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "data_categories": [category]}
    if meta:
        found["fides_meta"] = meta
    return found


EMAIL = _field("email", "user.contact.email", identity="email")
DATASET: dict[str, Any] = {
    "fides_key": "web_cache",
    "collections": [
        {
            "name": "sessions",
            "fields": [
                EMAIL,
                _field("token", "user.unique_id"),
                _field("ip", "user.device.ip_address"),
                _field("visits", data_type="integer"),
                _field("restricted", data_type="boolean"),
            ],
        },
        {
            "name": "carts",
            "fields": [
                _field("customer_id", data_type="integer"),
                EMAIL,
                _field("items", "user.behavior.purchase_history"),
                {
                    "name": "address",
                    "data_categories": ["user.contact.address"],
                    "fields": [
                        _field("city", "user.contact.address.city"),
                        _field("postcode", "user.contact.address.postal_code"),
                    ],
                },
                _field("restricted", data_type="boolean"),
            ],
        },
        {"name": "tokens", "fields": [EMAIL, _field("token", "user.unique_id")]},
        {"name": "subscribers", "fields": [EMAIL]},
        {"name": "leaderboards", "fields": [_field("board"), EMAIL]},
        {"name": "viewed", "fields": [EMAIL, _field("product", "user.behavior")]},
        {
            "name": "contacts",
            "fields": [
                _field("contact_id", primary_key=True, data_type="integer"),
                EMAIL,
                _field("name", "user.name"),
            ],
        },
    ],
}


def collections_config(prefix: str) -> dict[str, dict[str, Any]]:
    return {
        "sessions": {
            "key": f"{prefix}session:{{email}}",
            "type": "hash",
            "restriction_field": "restricted",
        },
        "carts": {
            "key": f"{prefix}cart:{{customer_id}}:{{email}}",
            "type": "string",
            "restriction_field": "restricted",
        },
        "tokens": {"key": f"{prefix}token:{{email}}", "type": "string", "value_field": "token"},
        "subscribers": {
            "key": f"{prefix}newsletter:subscribers",
            "type": "set",
            "member_field": "email",
        },
        "leaderboards": {
            "key": f"{prefix}leaderboard:{{board}}",
            "type": "sorted_set",
            "member_field": "email",
        },
        "viewed": {"key": f"{prefix}viewed:{{email}}", "type": "list", "member_field": "product"},
        "contacts": {"key": f"{prefix}crm:contact:{{contact_id}}", "type": "hash"},
    }


def specs(dataset: Mapping[str, Any] = DATASET) -> dict[str, CollectionSpec]:
    return {spec.name: spec for spec in dataset_specs(Dataset.model_validate(dataset))}


def config(url: str | None, prefix: str, **overrides: Any) -> RedisConnection:
    data: dict[str, Any] = {"type": "redis", "url": url, "collections": collections_config(prefix)}
    data.update(overrides)
    return RedisConnection.model_validate(data)


def connector(
    url: str | None,
    prefix: str,
    *,
    collections: Mapping[str, Any] | None = None,
    dataset: Mapping[str, Any] = DATASET,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> RedisConnector:
    if collections is not None:
        overrides["collections"] = collections
    return RedisConnector(
        "web_cache",
        config(url, prefix, **overrides),
        list(specs(dataset).values()),
        environ=environ or {},
    )
