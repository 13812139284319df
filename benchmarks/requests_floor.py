"""The floor: hand-written SQL doing a request's work on the estate, and putting people back.

Access reads every row the datasets reach from the person's email, the columns they name,
with the same predicates the SQL connector uses (emails compared lower-cased, children by
their parents' ids). Erasure finds the person and makes the policy's changes in one
transaction: nulls, the keyed hash of the customer's email, deleted logins and
subscriptions. `snapshot` and `restore` keep a person's rows by primary key so that each
erasure does real work on the same data.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import psycopg

Rows = dict[str, list[tuple[Any, ...]]]

COLUMNS = {
    "customers": "id, email, first_name, last_name, phone, created_at",
    "addresses": "id, customer_id, street, city, postcode, kind",
    "orders": "id, customer_id, placed_at, status, total, delivery_name, delivery_phone",
    "order_items": "id, order_id, sku, quantity, price, gift_message",
    "payments": "id, order_id, amount, card_last4, cardholder, paid_at",
    "tickets": "id, customer_id, email, subject, opened_at",
    "ticket_messages": "id, ticket_id, body, sent_at",
    "logins": "id, customer_id, ip_address, user_agent, at",
    "newsletter_subscriptions": "id, email, list, first_name, subscribed_at",
}
# Parents before children: the order rows are put back in (and the reverse, taken out).
PARENTS_FIRST = [
    "customers", "addresses", "orders", "order_items", "payments", "tickets",
    "ticket_messages", "logins", "newsletter_subscriptions",
]  # fmt: skip


def access(connection: psycopg.Connection[Any], emails: list[str]) -> Rows:
    """Every row of the person, as the platform's find steps read them."""
    folded = [e.lower() for e in emails]
    found: Rows = {}

    def read(table: str, where: str, *values: Any) -> list[tuple[Any, ...]]:
        rows = connection.execute(
            f"SELECT {COLUMNS[table]} FROM {table} WHERE {where}", values
        ).fetchall()
        found[table] = rows
        return rows

    with connection.transaction():
        people = [r[0] for r in read("customers", "lower(email) = ANY(%s)", folded)]
        read("addresses", "customer_id = ANY(%s)", people)
        orders = [r[0] for r in read("orders", "customer_id = ANY(%s)", people)]
        read("order_items", "order_id = ANY(%s)", orders)
        read("payments", "order_id = ANY(%s)", orders)
        tickets = read("tickets", "customer_id = ANY(%s) OR lower(email) = ANY(%s)", people, folded)
        read("ticket_messages", "ticket_id = ANY(%s)", [r[0] for r in tickets])
        read("logins", "customer_id = ANY(%s)", people)
        read("newsletter_subscriptions", "lower(email) = ANY(%s)", folded)
    return found


def erase(connection: psycopg.Connection[Any], emails: list[str], erasure_key: bytes) -> int:
    """The policy's erasure in one transaction; rows changed or deleted."""
    folded = [e.lower() for e in emails]
    changed = 0
    with connection.transaction():
        people = connection.execute(
            "SELECT id, email FROM customers WHERE lower(email) = ANY(%s) FOR UPDATE", (folded,)
        ).fetchall()
        ids = [r[0] for r in people]
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE customers SET email = %s, first_name = NULL, last_name = NULL, "
                "phone = NULL WHERE id = %s",
                [
                    (hmac.new(erasure_key, email.encode(), hashlib.sha256).hexdigest(), id_)
                    for id_, email in people
                ],
            )
            changed += len(people)

        def run(sql: str, *values: Any) -> list[Any]:
            nonlocal changed
            cursor = connection.execute(sql, values)
            changed += cursor.rowcount
            return [r[0] for r in cursor.fetchall()] if cursor.description else []

        run(
            "UPDATE addresses SET street = NULL, city = NULL, postcode = NULL "
            "WHERE customer_id = ANY(%s)",
            ids,
        )
        orders = run(
            "UPDATE orders SET delivery_name = NULL, delivery_phone = NULL "
            "WHERE customer_id = ANY(%s) RETURNING id",
            ids,
        )
        run("UPDATE order_items SET gift_message = NULL WHERE order_id = ANY(%s)", orders)
        run(
            "UPDATE payments SET card_last4 = NULL, cardholder = NULL WHERE order_id = ANY(%s)",
            orders,
        )
        tickets = run(
            "UPDATE tickets SET email = NULL, subject = NULL "
            "WHERE customer_id = ANY(%s) OR lower(email) = ANY(%s) RETURNING id",
            ids,
            folded,
        )
        run("UPDATE ticket_messages SET body = NULL WHERE ticket_id = ANY(%s)", tickets)
        run("DELETE FROM logins WHERE customer_id = ANY(%s)", ids)
        run("DELETE FROM newsletter_subscriptions WHERE lower(email) = ANY(%s)", folded)
    return changed


def keys_of(rows: Rows) -> dict[str, list[Any]]:
    return {table: [r[0] for r in found] for table, found in rows.items()}


def snapshot(connection: psycopg.Connection[Any], keys: dict[str, list[Any]]) -> Rows:
    """The rows with these primary keys now, in key order (deleted rows are missing)."""
    with connection.transaction():
        return {
            table: connection.execute(
                f"SELECT {COLUMNS[table]} FROM {table} WHERE id = ANY(%s) ORDER BY id",
                (keys.get(table, []),),
            ).fetchall()
            for table in PARENTS_FIRST
        }


def restore(connection: psycopg.Connection[Any], saved: Rows) -> None:
    """Put the saved rows back as they were, in one transaction."""
    with connection.transaction(), connection.cursor() as cursor:
        for table in reversed(PARENTS_FIRST):
            cursor.execute(
                f"DELETE FROM {table} WHERE id = ANY(%s)", ([r[0] for r in saved.get(table, [])],)
            )
        for table in PARENTS_FIRST:
            rows = saved.get(table, [])
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", rows)
