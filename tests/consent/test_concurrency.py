"""Concurrent writers on PostgreSQL, threads and processes, each with its own engine: no
record is lost, the chain stays one unbroken line, and the preferences match the ledger."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from consent_helpers import Applied, projection
from ledger_workers import append_many, final_state
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from opendpo.consent import ledger
from opendpo.consent.ledger import ConsentRecord, CurrentConsent
from opendpo.policy.versions import document_json
from opendpo.security.keyring import Keyring
from opendpo.settings import Settings

pytestmark = pytest.mark.postgres

THREADS, PROCESSES, EACH = 8, 4, 25


@pytest.fixture
def database_url(postgres_database: str) -> Iterator[str]:
    """PostgreSQL only: SQLite serialises every writer anyway."""
    engine = create_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield postgres_database


def check_ledger(session: Session, keyring: Keyring, writers: int) -> None:
    total = writers * EACH
    seqs = list(session.scalars(select(ConsentRecord.seq).order_by(ConsentRecord.seq)))
    assert seqs == list(range(1, total + 1))
    sources = [str(s) for s in session.scalars(select(ConsentRecord.source))]
    assert sorted(set(sources)) == sorted(f"writer {n}" for n in range(writers))
    assert all(sources.count(f"writer {n}") == EACH for n in range(writers))
    result = ledger.verify(session=session, keyring=keyring)
    assert result.ok, result.problem
    assert result.checked == total
    states = list(session.scalars(select(CurrentConsent.state)))
    assert states == [final_state(EACH)] * writers
    before = projection(session)
    ledger.rebuild_states(session=session)
    session.commit()
    assert projection(session) == before


def test_threads_lose_no_record(
    settings: Settings, session: Session, keyring: Keyring, applied: Applied
) -> None:
    document = document_json(applied.document)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [
            pool.submit(append_many, settings, document, writer, EACH) for writer in range(THREADS)
        ]
        for future in futures:
            future.result()
    check_ledger(session, keyring, THREADS)


def test_processes_lose_no_record(
    settings: Settings, session: Session, keyring: Keyring, applied: Applied
) -> None:
    document = document_json(applied.document)
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        pool.starmap(
            append_many, [(settings, document, writer, EACH) for writer in range(PROCESSES)]
        )
    check_ledger(session, keyring, PROCESSES)
