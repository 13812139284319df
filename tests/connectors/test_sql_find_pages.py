"""Finding rows a page at a time: a small result in one plain statement, a big one streamed
afterwards, every row exactly once either way, around the page boundary, on each engine."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from sql_estate import empty_url, engine_for
from sqlalchemy import event, text

from opendpo.connectors.base import CollectionSpec, FieldSpec
from opendpo.connectors.sql import SqlConnection, SqlConnector
from opendpo.connectors.sql_find import FETCH_ROWS

__all__ = ["empty_url"]  # a fixture, used by name

VISITS = CollectionSpec(
    "site_db",
    "visits",
    (
        FieldSpec(path="id", primary_key=True, data_type="integer"),
        FieldSpec(path="email", identity="email"),
        FieldSpec(path="page"),
    ),
)
# Rows per person: none, one, a full page, a page and one, and a bit over two pages.
PEOPLE = {
    "none@sample.test": 0,
    "one@sample.test": 1,
    "page@sample.test": FETCH_ROWS,
    "over@sample.test": FETCH_ROWS + 1,
    "many@sample.test": 2 * FETCH_ROWS + 3,
}


@pytest.fixture
def connector(empty_url: str) -> Any:
    engine = engine_for(empty_url)
    rows = []
    for email, count in PEOPLE.items():
        # Each person's address in capitals on some rows: found all the same.
        spelled = [email.upper() if n % 7 == 0 else email for n in range(count)]
        rows += [
            {"id": len(rows) + n + 1, "email": e, "page": f"/p/{n}"} for n, e in enumerate(spelled)
        ]
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE visits (id INTEGER PRIMARY KEY, email VARCHAR(254), page VARCHAR(50))"
            )
        )
        connection.execute(text("INSERT INTO visits VALUES (:id, :email, :page)"), rows)
    engine.dispose()
    found = SqlConnector("site", SqlConnection(url=SecretStr(empty_url)), [VISITS], environ={})
    found.check()
    yield found
    found.close()


@pytest.mark.parametrize("email", list(PEOPLE))
def test_every_row_of_a_person_is_found_once(connector: SqlConnector, email: str) -> None:
    statements: list[bool | str] = []

    def seen(_c: Any, _cursor: Any, sql: str, _p: Any, context: Any, _many: bool) -> None:
        if sql.startswith("SET LOCAL"):
            statements.append(sql)
        else:
            statements.append(bool(context.execution_options.get("stream_results")))

    engine = connector._open()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        rows = list(connector.find(VISITS, {"email": [email]}))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) == PEOPLE[email]
    assert {row["email"].lower() for row in rows} <= {email}
    if PEOPLE[email] <= FETCH_ROWS:
        # One plain statement: no server-side cursor to declare, fetch and close.
        assert statements == [False]
    else:
        # The first page showed there is more: the whole result is streamed from the start,
        # on PostgreSQL planned for every row rather than a cursor's first tenth.
        plan = (
            ["SET LOCAL cursor_tuple_fraction = 1"] if engine.dialect.name == "postgresql" else []
        )
        assert statements == [False, *plan, True]


def test_finds_inside_reading_share_one_connection(connector: SqlConnector) -> None:
    checkouts: list[object] = []
    engine = connector._open()
    event.listen(engine.pool, "checkout", lambda *args: checkouts.append(args))
    people = ["one@sample.test", "none@sample.test", "over@sample.test", "one@sample.test"]
    with connector.reading():
        found = [len(list(connector.find(VISITS, {"email": [email]}))) for email in people]
        with connector.reading():  # nested: the outer scope's connection serves
            found.append(len(list(connector.find(VISITS, {"email": ["page@sample.test"]}))))
    assert found == [1, 0, FETCH_ROWS + 1, 1, FETCH_ROWS]
    assert len(checkouts) == 1
    # Outside a scope each find takes its own connection, as before.
    list(connector.find(VISITS, {"email": ["one@sample.test"]}))
    list(connector.find(VISITS, {"email": ["one@sample.test"]}))
    assert len(checkouts) == 3
