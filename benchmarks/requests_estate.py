"""The estate `requests.py` runs requests over: a shop, a support desk and a website on PostgreSQL.

Nine related tables in one database (`opendpo_bench` by default), generated inside the server
with generate_series, so 10,000,000 rows take minutes, not hours:

    customers            N          email (mixed case for a tenth), names, phone
    addresses            1.2 N      customer_id → customers
    orders               2 N        customer_id → customers
    order_items          2.4 N      order_id → orders
    payments             1.2 N      order_id → orders
    tickets              0.3 N      customer_id → customers, or only an email (a third)
    ticket_messages      0.9 N      ticket_id → tickets
    logins               1.0 N      customer_id → customers
    newsletter_subscriptions 0.5 N  email only (no customer id)

Children are spread at random (setseed: the same data on every build), so people hold from
none to a dozen rows of a kind. One more customer, `export.person@example.com`, holds the
`export_rows` rows the export measurement packages (logins, orders, their items and
payments). Indexes are those a shop would have, plus `lower(email)` wherever the dataset
names email as an identity: the SQL connector compares emails lower-cased
(`connectors/sql_find.py`), and so does the floor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

EXPORT_EMAIL = "export.person@example.com"
# Rows per customer, by table.
SHARES = {
    "addresses": 1.2,
    "orders": 2.0,
    "order_items": 2.4,
    "payments": 1.2,
    "tickets": 0.3,
    "ticket_messages": 0.9,
    "logins": 1.0,
    "newsletter_subscriptions": 0.5,
}
# How the export person's rows are spread.
EXPORT_SHARES = {"orders": 0.1, "order_items": 0.3, "payments": 0.1, "logins": 0.5}

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, first_name text,
  last_name text, phone text, created_at timestamptz NOT NULL);
CREATE TABLE addresses (id bigint PRIMARY KEY, customer_id bigint NOT NULL, street text,
  city text, postcode text, kind text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL,
  placed_at timestamptz NOT NULL, status text NOT NULL, total numeric(10,2) NOT NULL,
  delivery_name text, delivery_phone text);
CREATE TABLE order_items (id bigint PRIMARY KEY, order_id bigint NOT NULL, sku text NOT NULL,
  quantity integer NOT NULL, price numeric(10,2) NOT NULL, gift_message text);
CREATE TABLE payments (id bigint PRIMARY KEY, order_id bigint NOT NULL,
  amount numeric(10,2) NOT NULL, card_last4 text, cardholder text, paid_at timestamptz NOT NULL);
CREATE TABLE tickets (id bigint PRIMARY KEY, customer_id bigint, email text, subject text,
  opened_at timestamptz NOT NULL);
CREATE TABLE ticket_messages (id bigint PRIMARY KEY, ticket_id bigint NOT NULL, body text,
  sent_at timestamptz NOT NULL);
CREATE TABLE logins (id bigint PRIMARY KEY, customer_id bigint NOT NULL, ip_address text,
  user_agent text, at timestamptz NOT NULL);
CREATE TABLE newsletter_subscriptions (id bigint PRIMARY KEY, email text NOT NULL,
  list text NOT NULL, first_name text, subscribed_at timestamptz NOT NULL);
CREATE TABLE bench_meta (customers bigint NOT NULL, export_rows bigint NOT NULL);
"""

INDEXES = """
CREATE INDEX customers_lower_email ON customers (lower(email));
CREATE INDEX addresses_customer ON addresses (customer_id);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX order_items_order ON order_items (order_id);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX tickets_customer ON tickets (customer_id);
CREATE INDEX tickets_lower_email ON tickets (lower(email));
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id);
CREATE INDEX logins_customer ON logins (customer_id);
CREATE INDEX newsletter_lower_email ON newsletter_subscriptions (lower(email));
ALTER TABLE addresses ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE payments ADD FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE tickets ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE ticket_messages ADD FOREIGN KEY (ticket_id) REFERENCES tickets (id);
ALTER TABLE logins ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
"""

# Email of customer g: the same formula wherever a table holds a customer's address.
EMAIL = "(CASE WHEN {g} % 10 = 0 THEN 'Customer.' ELSE 'customer.' END || {g} || '@example.com')"
FIRST = "(ARRAY['Alice','Bilal','Chen','Dorota','Emeka','Fiona','Gareth','Hana'])[1 + {g} % 8]"
LAST = "(ARRAY['Archer','Begum','Carter','Dlamini','Evans','Fraser','Gupta'])[1 + {g} % 7]"
AT = "(timestamptz '2020-01-01' + ({g} % 157000000) * interval '1 second')"


def customer_email(number: int) -> str:
    return f"{'Customer.' if number % 10 == 0 else 'customer.'}{number}@example.com"


def _fill(n: int) -> list[str]:
    """INSERTs for n customers and their rows (ids 1.. per table)."""
    count = {table: int(n * share) for table, share in SHARES.items()}
    pick = "1 + floor(random() * {m})::bigint"
    customer = pick.format(m=n)
    return [
        "SELECT setseed(0.42)",
        f"""INSERT INTO customers SELECT g, {EMAIL.format(g="g")}, {FIRST.format(g="g")},
            {LAST.format(g="g")}, '+44 7700 ' || lpad((g % 1000000)::text, 6, '0'),
            {AT.format(g="g")} FROM generate_series(1, {n}) g""",
        f"""INSERT INTO addresses SELECT g, {customer}, g || ' High Street',
            (ARRAY['Luton','Leeds','Bristol','Derby'])[1 + g % 4], 'LU' || (g % 9 + 1) || ' 8DL',
            (ARRAY['home','delivery','billing'])[1 + g % 3]
            FROM generate_series(1, {count["addresses"]}) g""",
        f"""INSERT INTO orders SELECT g, {customer}, {AT.format(g="g")},
            (ARRAY['placed','shipped','delivered','returned'])[1 + g % 4],
            (g % 50000) / 100.0 + 1, {FIRST.format(g="g")} || ' ' || {LAST.format(g="g")},
            '+44 7700 ' || lpad((g % 1000000)::text, 6, '0')
            FROM generate_series(1, {count["orders"]}) g""",
        f"""INSERT INTO order_items SELECT g, {pick.format(m=count["orders"])},
            'SKU-' || (g % 5000), 1 + g % 4, (g % 20000) / 100.0 + 1,
            CASE WHEN g % 20 = 0 THEN 'Happy birthday from ' || {FIRST.format(g="g")} END
            FROM generate_series(1, {count["order_items"]}) g""",
        f"""INSERT INTO payments SELECT g, {pick.format(m=count["orders"])},
            (g % 50000) / 100.0 + 1, lpad((g % 10000)::text, 4, '0'),
            {FIRST.format(g="g")} || ' ' || {LAST.format(g="g")}, {AT.format(g="g")}
            FROM generate_series(1, {count["payments"]}) g""",
        # A third of the tickets came by email from someone not matched to a customer id.
        f"""INSERT INTO tickets SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE c END,
            CASE WHEN g % 3 = 0 THEN {EMAIL.format(g="c")} END,
            (ARRAY['Refund','Login','Delivery','Invoice'])[1 + g % 4] || ' #' || g,
            {AT.format(g="g")}
            FROM (SELECT g, {customer} AS c FROM generate_series(1, {count["tickets"]}) g) t""",
        f"""INSERT INTO ticket_messages SELECT g, {pick.format(m=count["tickets"])},
            'Hello, this is about my order ' || g || '. Regards, ' || {FIRST.format(g="g")},
            {AT.format(g="g")} FROM generate_series(1, {count["ticket_messages"]}) g""",
        f"""INSERT INTO logins SELECT g, {customer}, '203.0.' || (g % 250) || '.' || (g % 251),
            'Mozilla/5.0 (X11; Linux x86_64) Firefox/' || (100 + g % 40), {AT.format(g="g")}
            FROM generate_series(1, {count["logins"]}) g""",
        # Subscribers are every other customer, their address as typed into the sign-up form.
        f"""INSERT INTO newsletter_subscriptions SELECT g, {EMAIL.format(g="(2 * g)")},
            (ARRAY['news','offers'])[1 + g % 2], {FIRST.format(g="g")}, {AT.format(g="g")}
            FROM generate_series(1, {count["newsletter_subscriptions"]}) g""",
    ]


def _export_person(n: int, rows: int) -> list[str]:
    """One customer (id n + 1) holding `rows` rows, after every generated id."""
    if rows <= 0:
        return []
    count = {table: int(rows * share) for table, share in EXPORT_SHARES.items()}
    count["logins"] += rows - sum(count.values())
    person = n + 1
    orders_from = int(n * SHARES["orders"])
    first = {table: int(n * SHARES[table]) for table in EXPORT_SHARES}
    return [
        f"""INSERT INTO customers VALUES ({person}, '{EXPORT_EMAIL}', 'Export', 'Person',
            '+44 7700 900000', timestamptz '2020-01-01')""",
        f"""INSERT INTO orders SELECT {orders_from} + g, {person}, {AT.format(g="g")}, 'placed',
            (g % 50000) / 100.0 + 1, 'Export Person', '+44 7700 900000'
            FROM generate_series(1, {count["orders"]}) g""",
        f"""INSERT INTO order_items SELECT {first["order_items"]} + g,
            {orders_from} + 1 + g % {count["orders"]}, 'SKU-' || (g % 5000), 1, 9.99, NULL
            FROM generate_series(1, {count["order_items"]}) g""",
        f"""INSERT INTO payments SELECT {first["payments"]} + g, {orders_from} + g,
            (g % 50000) / 100.0 + 1, '4242', 'Export Person', {AT.format(g="g")}
            FROM generate_series(1, {count["payments"]}) g""",
        f"""INSERT INTO logins SELECT {first["logins"]} + g, {person}, '198.51.100.' || (g % 250),
            'curl/8.0', {AT.format(g="g")} FROM generate_series(1, {count["logins"]}) g""",
    ]


def present(engine: Engine, customers: int, export_rows: int) -> bool:
    """Whether the database already holds this estate, fully built."""
    with engine.connect() as connection:
        if connection.scalar(text("SELECT to_regclass('bench_meta')")) is None:
            return False
        row = connection.execute(text("SELECT customers, export_rows FROM bench_meta")).first()
    return row is not None and tuple(row) == (customers, export_rows)


def build(
    engine: Engine, customers: int, export_rows: int, say: Callable[[str], Any]
) -> dict[str, int]:
    """Drop and generate every table; rows per table."""
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(text(statement))
        for statement in _fill(customers) + _export_person(customers, export_rows):
            table = statement.split("INTO ", 1)[1].split()[0] if "INTO" in statement else ""
            say(f"filling {table or 'setseed'} ({time.perf_counter() - started:.0f} s)")
            connection.execute(text(statement))
    with engine.begin() as connection:
        for statement in INDEXES.split(";"):
            if statement.strip():
                say(f"{statement.strip()[:60]} ({time.perf_counter() - started:.0f} s)")
                connection.execute(text(statement))
        connection.execute(
            text("INSERT INTO bench_meta VALUES (:c, :e)"), {"c": customers, "e": export_rows}
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        say(f"VACUUM ANALYZE ({time.perf_counter() - started:.0f} s)")
        connection.execute(text("VACUUM ANALYZE"))
    return table_sizes(engine)


def table_sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("customers", *SHARES)
        }
