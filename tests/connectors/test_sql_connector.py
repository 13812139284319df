"""The SQL connector on real SQLite, PostgreSQL and MariaDB: configuration, check, find."""

from __future__ import annotations

import decimal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sql_connecting import SPECS, connector, contact, crm, expected, server_version
from sql_estate import (
    CUSTOMER_CONTACTS,
    CUSTOMERS,
    ENQUIRIES,
    company_url,
    contacts,
    empty_url,
    engine_for,
    organisations,
    seed,
)
from sqlalchemy import event

from opendpo.connectors.base import (
    CollectionSpec,
    ConnectorError,
    FieldSpec,
)
from opendpo.connectors.sql import VALUES_PER_STATEMENT, SqlConnection, SqlConnector
from opendpo.connectors.sql_engine import database_url

__all__ = ["company_url", "crm", "empty_url"]  # fixtures, used by name


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@db.example/crm", "postgresql+psycopg"),
        ("postgres://u@db.example/crm", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example/crm", "postgresql+psycopg"),
        ("mysql://u@db.example/crm", "mysql+pymysql"),
        ("mariadb://u@db.example/crm", "mysql+pymysql"),
        ("mysql+pymysql://u@db.example/crm", "mysql+pymysql"),
        ("sqlite:////var/lib/crm.db", "sqlite"),
        ("mssql+pyodbc://u:p@db.example/crm", "mssql+pyodbc"),
    ],
)
def test_urls_get_the_shipped_drivers_and_other_dialects_pass_through(
    given: str, driver: str
) -> None:
    assert database_url(given).drivername == driver
    assert SqlConnection.model_validate({"type": "sql", "url": given}).pool_size == 5


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"url": "not a url"}, "url", "not a database URL"),
        ({"url": "nosuchdb://u:hunter2@h/x"}, "url", "unknown kind of database 'nosuchdb'"),
        ({"url": "sqlite://"}, "url", "an SQLite URL needs a file"),
        ({"url": "postgresql://u:hunter2@h"}, "url", "the URL names no database"),
        ({}, "url", "give url (the database URL) or url_env"),
        ({"url": "sqlite:///x.db", "url_env": "CRM_URL"}, "url", "not both"),
        ({"url": "sqlite:///x.db", "pool_size": 0}, "pool_size", "greater than or equal to 1"),
        ({"url": "sqlite:///x.db", "host": "h"}, "host", "Extra inputs are not permitted"),
    ],
)
def test_bad_configuration_names_the_field_and_never_echoes_the_url(
    data: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SqlConnection.model_validate({"type": "sql", **data})
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert message in error["msg"]
    assert "hunter2" not in str(caught.value)


def test_url_env_is_read_from_the_environment_given(company_url: str) -> None:
    config = SqlConnection.model_validate({"type": "sql", "url_env": "CRM_DATABASE_URL"})
    found = SqlConnector("crm", config, [], environ={"CRM_DATABASE_URL": company_url})
    try:
        assert found.check() == server_version(company_url)
    finally:
        found.close()
    missing = SqlConnector("crm", config, [], environ={})
    with pytest.raises(ConnectorError) as caught:
        missing.check()
    assert caught.value.message == (
        "crm: url_env names CRM_DATABASE_URL, which is not set in the environment"
    )
    assert caught.value.retryable is False


def test_a_bad_url_in_the_environment_is_a_configuration_error() -> None:
    config = SqlConnection.model_validate({"type": "sql", "url_env": "CRM_DATABASE_URL"})
    found = SqlConnector("crm", config, [], environ={"CRM_DATABASE_URL": "sqlite://"})
    with pytest.raises(ConnectorError) as caught:
        found.check()
    assert caught.value.message == (
        "crm: url_env (CRM_DATABASE_URL): an SQLite URL needs a file: sqlite:///path/to/file.db"
    )
    assert caught.value.retryable is False


# -- check --------------------------------------------------------------------------------------


def test_check_names_the_server_and_finds_every_table(crm: SqlConnector, company_url: str) -> None:
    assert crm.check() == server_version(company_url)


def test_check_names_each_missing_table_and_column(company_url: str) -> None:
    spec = SPECS["contacts"]
    renamed = CollectionSpec(spec.dataset, "people", spec.fields)
    fields = (*spec.fields, FieldSpec(path="nickname"), FieldSpec(path="shoe_size"))
    widened = CollectionSpec(spec.dataset, "contacts", fields)
    found = SqlConnector(
        "crm", SqlConnection(url=SecretStr(company_url)), [renamed, widened], environ={}
    )
    try:
        with pytest.raises(ConnectorError) as caught:
            found.check()
    finally:
        found.close()
    assert caught.value.message == (
        "crm: collection 'people': no table 'people'; "
        "collection 'contacts': table 'contacts' has no columns 'nickname', 'shoe_size'"
    )
    assert caught.value.retryable is False


# -- find ---------------------------------------------------------------------------------------


def test_find_by_identity_returns_the_dataset_fields(crm: SqlConnector) -> None:
    found = list(crm.find(SPECS["contacts"], {"email": ["person1@sample.test"]}))
    assert found == [contact(1)]
    assert set(found[0]) == {
        "id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "organisation_id",
        "marketing_opt_in",
    }


def test_find_ors_fields_and_values(crm: SqlConnector) -> None:
    where = {
        "email": ["person1@sample.test", "person4@sample.test"],
        "phone": ["+44 7700 900103", "+44 7700 900104"],
    }
    found = sorted(crm.find(SPECS["contacts"], where), key=lambda row: row["id"])
    assert found == [contact(1), contact(3), contact(4)]


def test_find_by_reference_values(crm: SqlConnector) -> None:
    found = sorted(crm.find(SPECS["enquiries"], {"contact_id": [1]}), key=lambda r: r["id"])
    assert found == [expected(SPECS["enquiries"], e) for e in ENQUIRIES[:2]]
    assert list(crm.find(SPECS["enquiries"], {"contact_id": []})) == []
    assert list(crm.find(SPECS["enquiries"], {})) == []


def test_values_of_the_wrong_type_match_nothing(crm: SqlConnector, company_url: str) -> None:
    engine = engine_for(company_url)
    with engine.begin() as connection:
        # MySQL compares 'abc' equal to 0: the value must never reach it.
        connection.execute(organisations.insert(), [{"id": 0, "name": "Zero Ltd"}])
    engine.dispose()
    spec = SPECS["contacts"]
    assert list(crm.find(spec, {"id": ["abc", "1.5", None, [], 2**70]})) == []
    assert list(crm.find(SPECS["organisations"], {"id": ["abc", "", "0x0"]})) == []
    found = sorted(crm.find(spec, {"id": ["2", 3.0, decimal.Decimal("4")]}), key=lambda r: r["id"])
    assert found == [contact(2), contact(3), contact(4)]
    # A number for a text column is compared as text; nothing here is "5".
    assert list(crm.find(spec, {"email": [5, True, None]})) == []
    assert list(crm.find(spec, {"email": [5], "id": ["x", 6]})) == [contact(6)]


def test_a_text_primary_key(crm: SqlConnector) -> None:
    found = list(crm.find(SPECS["subscribers"], {"email": ["person3@sample.test"]}))
    assert found == [{"email": "person3@sample.test", "first_name": "Ermintrude", "consent": False}]


def test_json_columns_come_back_as_objects_and_nested_fields_can_be_searched(
    crm: SqlConnector,
) -> None:
    spec = SPECS["customers"]
    found = sorted(crm.find(spec, {"id": [1, 3]}), key=lambda r: r["id"])
    assert found == [expected(spec, CUSTOMERS[0]), expected(spec, CUSTOMERS[2])]
    assert found[0]["billing_address"] == {
        "street": "1 Sample Street",
        "city": "Sampletown",
        "postcode": "LU2 8DL",
    }
    by_city = list(crm.find(spec, {"billing_address.city": ["Sampleford"]}))
    assert by_city == [expected(spec, CUSTOMERS[1])]


def test_a_table_without_primary_key(crm: SqlConnector) -> None:
    spec = SPECS["customer_contacts"]
    found = sorted(crm.find(spec, {"customer_id": [1]}), key=lambda r: r["email"])
    assert found == [expected(spec, CUSTOMER_CONTACTS[1]), expected(spec, CUSTOMER_CONTACTS[0])]


def recase_email(url: str, contact_id: int, email: str) -> None:
    engine = engine_for(url)
    with engine.begin() as connection:
        connection.execute(contacts.update().where(contacts.c.id == contact_id).values(email=email))
    engine.dispose()


def test_email_identities_match_whatever_their_case(crm: SqlConnector, company_url: str) -> None:
    recase_email(company_url, 5, "Person5@Sample.TEST")
    spec = SPECS["contacts"]
    stored = {**contact(5), "email": "Person5@Sample.TEST"}
    assert list(crm.find(spec, {"email": ["person5@sample.test"]})) == [stored]
    assert list(crm.find(spec, {"email": ["PERSON5@SAMPLE.TEST", "Person5@Sample.TEST"]})) == [
        stored
    ]


def test_more_values_than_one_statement_takes_return_each_row_once(
    crm: SqlConnector, company_url: str
) -> None:
    recase_email(company_url, 2, "PERSON2@SAMPLE.TEST")
    where: dict[str, list[Any]] = {
        "id": list(range(1, 25_001)),
        "email": ["person1@sample.test", "person2@sample.test"],
    }
    found = sorted(crm.find(SPECS["contacts"], where), key=lambda r: r["id"])
    assert [row["id"] for row in found] == list(range(1, 11))
    assert found[1] == {**contact(2), "email": "PERSON2@SAMPLE.TEST"}


def test_concurrent_finds_share_the_pool(crm: SqlConnector) -> None:
    def lookup(i: int) -> list[dict[str, Any]]:
        return list(crm.find(SPECS["contacts"], {"email": [f"person{i % 10 + 1}@sample.test"]}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lookup, range(40)))
    assert results == [[contact(i % 10 + 1)] for i in range(40)]


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:1/crm", "mysql://root:hunter2-secret@127.0.0.1:1/crm"],
)
def test_a_closed_port_is_worth_retrying(url: str) -> None:
    found = connector(url, connect_timeout_seconds=2)
    with pytest.raises(ConnectorError) as caught:
        found.check()
    assert caught.value.retryable is True
    assert caught.value.message.startswith("crm: connecting: ")
    assert "hunter2-secret" not in caught.value.message


@pytest.mark.mariadb
def test_a_wrong_password_on_mariadb_is_not_retried(estate_mariadb_url: str) -> None:
    url = estate_mariadb_url.replace("root@", "root:hunter2-secret@", 1)
    found = connector(url)
    with pytest.raises(ConnectorError) as caught:
        found.check()
    assert caught.value.retryable is False
    assert caught.value.message == (
        "crm: connecting: Access denied for user 'root'@'127.0.0.1' (using password: YES) "
        "(MySQL error 1045)"
    )


@pytest.mark.postgres
def test_unknown_credentials_on_postgresql_are_not_retried(estate_postgres_url: str) -> None:
    # The test server trusts every local connection, so a wrong password cannot fail there:
    # an unknown role is the same refusal (SQLSTATE 28000) at the same step.
    url = estate_postgres_url.replace("postgres@", "opendpo_no_such_role:hunter2-secret@", 1)
    found = connector(url)
    with pytest.raises(ConnectorError) as caught:
        found.check()
    assert caught.value.retryable is False
    assert caught.value.message.startswith("crm: connecting: the server refused the connection: ")
    assert 'role "opendpo_no_such_role" does not exist' in caught.value.message
    assert "hunter2-secret" not in caught.value.message


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("estate_postgres_url", marks=pytest.mark.postgres),
        pytest.param("estate_mariadb_url", marks=pytest.mark.mariadb),
    ],
)
def test_a_missing_database_is_not_retried(request: pytest.FixtureRequest, fixture: str) -> None:
    url = str(request.getfixturevalue(fixture)).rsplit("/", 1)[0] + "/opendpo_no_such_db"
    with pytest.raises(ConnectorError) as caught:
        connector(url).check()
    assert caught.value.retryable is False
    assert "opendpo_no_such_db" in caught.value.message


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(ConnectorError) as caught:
        connector(f"sqlite:///{path}").check()
    assert caught.value.message == (
        "crm: connecting: unable to open database file (SQLite error 14)"
    )
    assert caught.value.retryable is False
    assert not path.exists()


def test_close_releases_the_pool_and_a_later_call_opens_it_again(
    crm: SqlConnector, company_url: str
) -> None:
    assert list(crm.find(SPECS["contacts"], {"id": [5]})) == [contact(5)]
    crm.close()
    assert list(crm.find(SPECS["contacts"], {"id": [5]})) == [contact(5)]


def test_statement_timeouts_are_refused_for_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.touch()
    with pytest.raises(ValidationError) as caught:
        SqlConnection(url=SecretStr(f"sqlite:///{path}"), statement_timeout_seconds=5)
    error = caught.value.errors()[0]
    assert (error["loc"], error["msg"]) == (
        ("statement_timeout_seconds",),
        "Value error, SQLite has no statement timeout",
    )
    # Given through the environment, the URL is known only when the connector opens.
    config = SqlConnection(url_env="CRM_URL", statement_timeout_seconds=5)
    found = SqlConnector("crm", config, [], environ={"CRM_URL": f"sqlite:///{path}"})
    with pytest.raises(ConnectorError) as refused:
        found.check()
    assert refused.value.message == (
        "crm: statement_timeout_seconds: SQLite has no statement timeout"
    )


def test_threads_see_one_engine(crm: SqlConnector) -> None:
    barrier = threading.Barrier(6)

    def first_call(_: int) -> str:
        barrier.wait()
        return crm.check()

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert len(set(pool.map(first_call, range(6)))) == 1


@pytest.mark.postgres
def test_a_postgresql_schema(estate_postgres_url: str) -> None:
    seed(estate_postgres_url, schema="sales")
    found = connector(estate_postgres_url, schema_name="sales")
    elsewhere = connector(estate_postgres_url)
    try:
        assert found.check() == server_version(estate_postgres_url)
        assert list(found.find(SPECS["contacts"], {"id": [7]})) == [contact(7)]
        with pytest.raises(ConnectorError) as caught:
            elsewhere.check()
    finally:
        found.close()
        elsewhere.close()
    assert caught.value.message.startswith("crm: collection 'contacts': no table 'contacts'; ")


@pytest.mark.postgres
def test_postgresql_takes_values_as_an_array_in_one_unchanging_statement(
    estate_postgres_url: str,
) -> None:
    seed(estate_postgres_url)
    found = connector(estate_postgres_url)
    sent: list[str] = []
    try:
        found.check()
        engine = found._open()
        event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        few = list(found.find(SPECS["contacts"], {"id": [3, 7]}))
        many = list(found.find(SPECS["contacts"], {"id": list(range(1, 25_001))}))
    finally:
        found.close()
    assert [row["id"] for row in few] == [3, 7]
    assert sorted(row["id"] for row in many) == list(range(1, 11))
    # The same text every time, whatever the number of values: they travel as one array,
    # not a marker each. 25,000 values go in chunks (psycopg builds each array in memory).
    assert len(sent) == 1 + -(-25_000 // VALUES_PER_STATEMENT)
    assert len(set(sent)) == 1
    assert "ANY" in sent[0]
