"""The same estate on PostgreSQL and on MariaDB, all four datasets in one database each."""

from __future__ import annotations

import pytest
from estate_cases import AS_OF, COUNTS, PEOPLE, SEED
from estate_reading import assert_database_matches, connected, count_rows, read_table
from fideslang.models import Dataset
from sqlalchemy import insert, inspect

from opendpo.demo.estate import EstateExists, build_estate
from opendpo.demo.schema import DATASETS, dataset_metadata

ENGINES = [
    pytest.param("estate_postgres_url", marks=pytest.mark.postgres, id="postgresql"),
    pytest.param("estate_mariadb_url", marks=pytest.mark.mariadb, id="mariadb"),
]


@pytest.fixture(params=ENGINES)
def server_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url


def test_builds_the_same_estate_as_on_sqlite(
    server_url: str, connect_ib_datasets: list[Dataset]
) -> None:
    urls = dict.fromkeys(DATASETS, server_url)
    summary = build_estate(urls, people=PEOPLE, seed=SEED, as_of=AS_OF)

    assert dict(summary.counts) == COUNTS
    for table, count in COUNTS.items():
        assert count_rows(server_url, table) == count, table
    assert_database_matches(server_url, connect_ib_datasets)
    # Jane's rows come back exactly: dates, decimals, booleans and JSON included.
    for table, rows in summary.jane.items():
        stored = read_table(server_url, table)
        for row in rows:
            assert row in stored, table


def test_ids_added_after_the_build_follow_the_generated_ones(server_url: str) -> None:
    build_estate({"crm_db": server_url}, people=20, seed=SEED, as_of=AS_OF)
    organisations = dataset_metadata("crm_db").tables["organisations"]
    with connected(server_url) as connection:
        added = connection.execute(insert(organisations).values(name="Walk-in Ltd"))
        key = added.inserted_primary_key
        assert key is not None
        new_id = key[0]
        connection.commit()
    assert new_id == count_rows(server_url, "crm_db.organisations")


def test_refuses_to_overwrite_and_replaces_when_told(server_url: str) -> None:
    urls = dict.fromkeys(DATASETS, server_url)
    build_estate(urls, people=20, seed=SEED, as_of=AS_OF)
    with pytest.raises(EstateExists) as raised:
        build_estate(urls, people=PEOPLE, seed=SEED, as_of=AS_OF)
    assert set(raised.value.existing) == set(DATASETS)
    assert "website_db (" in raised.value.message

    summary = build_estate(urls, people=PEOPLE, seed=SEED, as_of=AS_OF, replace=True)
    assert dict(summary.counts) == COUNTS
    assert count_rows(server_url, "website_db.visits") == COUNTS["website_db.visits"]


def test_an_interrupted_build_leaves_no_tables_behind(server_url: str) -> None:
    def interrupt(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_estate(
            dict.fromkeys(DATASETS, server_url),
            people=PEOPLE,
            seed=SEED,
            as_of=AS_OF,
            progress=interrupt,
        )
    with connected(server_url) as connection:
        assert inspect(connection).get_table_names() == []
