"""An estate of five systems on five kinds of store, holding Alice (and Bob, who must never be
touched): a shop on PostgreSQL, support tickets on MariaDB, a newsletter on SQLite, web
sessions on Redis and a CRM behind an HTTP API (the local server in tests/support).

The support tickets reference the shop's customers across systems, so the support step
needs what the shop step found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from http_crm_api import AUTH, COLLECTIONS, DATASET
from http_crm_server import CrmServer
from ruamel.yaml import YAML
from sqlalchemy import create_engine, text

ALICE = "alice@example.com"
BOB = "bob@example.com"
HERE = Path(__file__).resolve().parent
POLICY_FILES = HERE.parent / "policy_files"


def _identity(kind: str = "email") -> dict[str, Any]:
    return {"identity": kind}


DATASETS: list[dict[str, Any]] = [
    {
        "fides_key": "shop",
        "name": "Shop",
        "collections": [
            {"name": "customers", "fields": [
                {"name": "id", "data_categories": ["system.operations"],
                 "fides_meta": {"primary_key": True}},
                {"name": "email", "data_categories": ["user.contact.email"],
                 "fides_meta": _identity()},
                {"name": "name", "data_categories": ["user.name"]},
            ]},
            {"name": "orders", "fields": [
                {"name": "id", "data_categories": ["system.operations"],
                 "fides_meta": {"primary_key": True}},
                {"name": "customer_id", "data_categories": ["system.operations"],
                 "fides_meta": {"references": [
                     {"dataset": "shop", "field": "customers.id", "direction": "from"}]}},
                {"name": "total", "data_categories": ["user.behavior.purchase_history"]},
                {"name": "delivery_name", "data_categories": ["user.name"]},
            ]},
        ],
    },
    {
        "fides_key": "support",
        "name": "Support desk",
        "collections": [
            {"name": "tickets", "fides_meta": {"masking_strategy_override": {"strategy": "delete"}},
             "fields": [
                {"name": "id", "data_categories": ["system.operations"],
                 "fides_meta": {"primary_key": True}},
                {"name": "customer_id", "data_categories": ["system.operations"],
                 "fides_meta": {"references": [
                     {"dataset": "shop", "field": "customers.id", "direction": "from"}]}},
                {"name": "email", "data_categories": ["user.contact.email"],
                 "fides_meta": _identity()},
                {"name": "subject", "data_categories": ["user.content.private"]},
            ]},
            {"name": "messages",
             "fides_meta": {"masking_strategy_override": {"strategy": "delete"}},
             "fields": [
                {"name": "id", "data_categories": ["system.operations"],
                 "fides_meta": {"primary_key": True}},
                {"name": "ticket_id", "data_categories": ["system.operations"],
                 "fides_meta": {"references": [
                     {"dataset": "support", "field": "tickets.id", "direction": "from"}]}},
                {"name": "body", "data_categories": ["user.content.private"]},
            ]},
        ],
    },
    {
        "fides_key": "newsletter",
        "name": "Newsletter",
        "collections": [
            {"name": "subscribers", "fields": [
                {"name": "email", "data_categories": ["user.contact.email"],
                 "fides_meta": {"identity": "email", "primary_key": True}},
                {"name": "first_name", "data_categories": ["user.name.first"]},
                {"name": "restricted", "data_categories": ["system.operations"]},
                {"name": "do_not_contact", "data_categories": ["system.operations"]},
            ]},
        ],
    },
    {
        "fides_key": "sessions",
        "name": "Web sessions",
        "collections": [
            {"name": "sessions", "fields": [
                {"name": "email", "data_categories": ["user.contact.email"],
                 "fides_meta": {"identity": "email", "primary_key": True}},
                {"name": "ip_address", "data_categories": ["user.device.ip_address"]},
                {"name": "user_agent", "data_categories": ["user.device"]},
            ]},
        ],
    },
    DATASET.model_dump(mode="json", exclude_none=True),
]  # fmt: skip

SYSTEMS = [
    ("shop", "Shop", ["shop"]),
    ("support", "Support desk", ["support"]),
    ("newsletter", "Newsletter", ["newsletter"]),
    ("sessions", "Web sessions", ["sessions"]),
    ("crm", "CRM", ["crm_api"]),
]

ERASURE = {
    "covers": ["user"],
    "default_strategy": "null",
    "fields": {
        "shop.customers.email": "keyed_hash",
        "newsletter.subscribers.email": "delete_row",
        "sessions.sessions.email": "delete_row",
        "crm_api.contacts.email": "delete_row",
        "crm_api.notes.text": "delete_row",
    },
    "exemptions": [
        {
            "collection": "shop.orders",
            "retention": "contract_records",
            "keep": ["total"],
            "reason": "Orders are accounting records, kept six years for HMRC.",
        }
    ],
}
RESTRICTION = {
    "flags": [
        {"field": "newsletter.subscribers.restricted", "restricted": 1, "lifted": 0},
        {
            "field": "newsletter.subscribers.do_not_contact",
            "marks": "objection",
            "restricted": 1,
            "lifted": 0,
        },
        {"field": "crm_api.contacts.restricted", "restricted": True, "lifted": False},
    ]
}


def write_policy(folder: Path, only: tuple[str, ...] | None = None) -> Path:
    """minimal.yaml with the five systems (or `only` these), their datasets and the erasure
    rules that concern them."""
    yaml = YAML(typ="safe")
    data = yaml.load((POLICY_FILES / "minimal.yaml").read_text(encoding="utf-8"))
    systems = [s for s in SYSTEMS if only is None or s[0] in only]
    datasets = {d for _, _, held in systems for d in held}
    data["systems"] = [
        {"key": key, "name": name, "kind": "other", "datasets": held} for key, name, held in systems
    ]
    data["dataset"] = [d for d in DATASETS if d["fides_key"] in datasets]
    for purpose in data["purposes"]:
        purpose["systems"] = [key for key, _, _ in systems]
    data["rights"]["available"] = [
        {"key": key, "name": key.title(), "description": f"The right of {key}.",
         "routes": ["dpo_email"]}
        for key in ("access", "erasure", "rectification", "restriction", "portability", "objection")
    ]  # fmt: skip
    ours = lambda name: name.split(".", 1)[0] in datasets  # noqa: E731
    data["erasure"] = {
        **ERASURE,
        "fields": {k: v for k, v in ERASURE["fields"].items() if ours(k)},
        "exemptions": [e for e in ERASURE["exemptions"] if ours(e["collection"])],
    }
    data["restriction"] = {"flags": [f for f in RESTRICTION["flags"] if ours(f["field"])]}
    path = folder / "five-systems.yaml"
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return path


def seed_shop(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE customers (id integer PRIMARY KEY, email text, name text)"))
        c.execute(
            text(
                "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL "
                "REFERENCES customers(id), total numeric(10,2), delivery_name text)"
            )
        )
        c.execute(
            text("INSERT INTO customers VALUES (1, :a, 'Alice Archer'), (2, :b, 'Bob Baker')"),
            {"a": ALICE, "b": BOB},
        )
        c.execute(
            text(
                "INSERT INTO orders VALUES (10, 1, 120.00, 'Alice Archer'), "
                "(11, 1, 75.50, 'A. Archer'), (12, 2, 20.00, 'Bob Baker')"
            )
        )
    engine.dispose()


def seed_support(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "CREATE TABLE tickets (id integer PRIMARY KEY, customer_id integer NULL, "
                "email varchar(200), subject varchar(200))"
            )
        )
        c.execute(
            text(
                "CREATE TABLE messages (id integer PRIMARY KEY, ticket_id integer NOT NULL, "
                "body text, FOREIGN KEY (ticket_id) REFERENCES tickets(id))"
            )
        )
        # Ticket 1 is found through the shop's customer id; ticket 2 by its email, written
        # in capitals; ticket 3 is Bob's.
        c.execute(
            text(
                "INSERT INTO tickets VALUES (1, 1, NULL, 'Login'), "
                "(2, NULL, 'Alice@Example.com', 'Refund'), (3, 2, :b, 'Invoice')"
            ),
            {"b": BOB},
        )
        c.execute(
            text(
                "INSERT INTO messages VALUES (1, 1, 'Cannot log in'), "
                "(2, 2, 'Please refund order 11'), (3, 3, 'Where is my invoice?')"
            )
        )
    engine.dispose()


def seed_newsletter(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "CREATE TABLE subscribers (email text PRIMARY KEY, first_name text, "
                "restricted integer NOT NULL DEFAULT 0, do_not_contact integer NOT NULL DEFAULT 0)"
            )
        )
        c.execute(
            text("INSERT INTO subscribers VALUES (:a, 'Alice', 0, 0), (:b, 'Bob', 0, 0)"),
            {"a": ALICE, "b": BOB},
        )
    engine.dispose()
    return url


def seed_sessions(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for email, ip in ((ALICE, "203.0.113.7"), (BOB, "203.0.113.8")):
        client.hset(
            f"{prefix}session:{email}",
            mapping={"email": email, "ip_address": ip, "user_agent": "Firefox"},
        )
    client.close()


def connections(
    *, shop: str, support: str, newsletter: str, redis_url: str, prefix: str, crm: CrmServer
) -> dict[str, dict[str, Any]]:
    """What `opendpo systems add` stores for each system."""
    return {
        "shop": {"type": "sql", "url": shop},
        "support": {"type": "sql", "url": support},
        "newsletter": {"type": "sql", "url": newsletter},
        "sessions": {
            "type": "redis",
            "url": redis_url,
            "collections": {"sessions": {"key": prefix + "session:{email}", "type": "hash"}},
        },
        "crm": {
            "type": "http",
            "base_url": crm.base_url("key"),
            "auth": AUTH["key"],
            "check": {"path": "/me"},
            "collections": COLLECTIONS,
        },
    }


@dataclass
class Estate:
    """The five systems as seeded (see the `estate` fixture), and ways to read them back."""

    shop: str
    support: str
    newsletter: str
    redis_url: str
    prefix: str
    crm: CrmServer

    def rows(self, url: str, sql: str) -> list[tuple[Any, ...]]:
        engine = create_engine(url)
        with engine.connect() as connection:
            found = [tuple(r) for r in connection.execute(text(sql))]
        engine.dispose()
        return found

    def session(self, email: str) -> dict[bytes, bytes]:
        client = redis.Redis.from_url(self.redis_url)
        found: dict[bytes, bytes] = client.hgetall(f"{self.prefix}session:{email}")
        client.close()
        return found
