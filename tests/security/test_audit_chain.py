"""Acceptance: the audit chain names the first entry edited, deleted or moved, on both engines."""

from __future__ import annotations

import threading
from collections.abc import Callable

from click.testing import Result
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring
from opendpo.store.engine import make_session_factory

Run = Callable[..., Result]
ENTRIES = 20


def write_entries(session: Session, keyring: Keyring, count: int = ENTRIES) -> None:
    for number in range(1, count + 1):
        audit.record(
            session=session,
            keyring=keyring,
            actor=Actor(ActorKind.STAFF, f"user{number % 3}", "192.0.2.7"),
            action=f"test.action{number % 4}",
            target_kind="person",
            target_id=f"p{number}",
            details={"number": number},
        )
        session.commit()


def sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def assert_broken(run: Run, message: str) -> None:
    result = run("audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"audit log damaged: {message}" in result.stderr


def test_an_intact_log_verifies(run: Run, session: Session, keyring: Keyring) -> None:
    write_entries(session, keyring)
    assert audit.verify(session=session, keyring=keyring).checked == ENTRIES
    result = run("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"audit log intact: {ENTRIES} entries\n"


def test_an_edited_entry_is_named(
    run: Run, engine: Engine, session: Session, keyring: Keyring
) -> None:
    write_entries(session, keyring)
    sql(engine, "UPDATE audit_entries SET action = 'test.innocent' WHERE seq = 7")
    result = audit.verify(session=session, keyring=keyring)
    assert (result.first_bad_seq, result.checked) == (7, 6)
    assert_broken(run, "entry 7 was edited: its contents do not match its hash")


def test_a_deleted_middle_entry_is_named(
    run: Run, engine: Engine, session: Session, keyring: Keyring
) -> None:
    write_entries(session, keyring)
    sql(engine, "DELETE FROM audit_entries WHERE seq = 10")
    assert audit.verify(session=session, keyring=keyring).first_bad_seq == 10
    assert_broken(run, "entry 10 is missing (the next entry is 11): entries were deleted")


def test_swapped_entries_are_named(
    run: Run, engine: Engine, session: Session, keyring: Keyring
) -> None:
    write_entries(session, keyring)
    sql(
        engine,
        "UPDATE audit_entries SET seq = -1 WHERE seq = 5",
        "UPDATE audit_entries SET seq = 5 WHERE seq = 6",
        "UPDATE audit_entries SET seq = 6 WHERE seq = -1",
    )
    assert audit.verify(session=session, keyring=keyring).first_bad_seq == 5
    assert_broken(
        run, "entry 5 does not follow entry 4: entries were deleted, reordered or swapped"
    )


def test_a_deleted_last_entry_is_caught_by_the_head(
    run: Run, engine: Engine, session: Session, keyring: Keyring
) -> None:
    write_entries(session, keyring)
    sql(engine, f"DELETE FROM audit_entries WHERE seq = {ENTRIES}")
    assert audit.verify(session=session, keyring=keyring).first_bad_seq == ENTRIES
    assert_broken(run, f"the chain ends at entry {ENTRIES - 1} but {ENTRIES} entries were written")


def test_a_truncation_with_the_head_wound_back_is_caught_by_a_recorded_head(
    run: Run, engine: Engine, session: Session, keyring: Keyring
) -> None:
    write_entries(session, keyring)
    head = run("audit", "head")
    recorded = head.stdout.splitlines()[-1].rsplit(" ", 1)[1]
    assert recorded.startswith(f"{ENTRIES}:")
    # The thorough attacker: delete the last entry and rewind the head to the one before.
    sql(
        engine,
        f"DELETE FROM audit_entries WHERE seq = {ENTRIES}",
        f"UPDATE hash_chain_heads SET seq = {ENTRIES - 1}, hash = (SELECT hash FROM "
        f"audit_entries WHERE seq = {ENTRIES - 1}) WHERE name = 'audit'",
    )
    assert run("audit", "verify").exit_code == 0
    result = run("audit", "verify", "--head", recorded)
    assert result.exit_code == 1
    assert f"entry {ENTRIES} is not the one recorded with --head" in result.stderr


def test_concurrent_writers_make_one_unbroken_chain(engine: Engine, keyring: Keyring) -> None:
    threads = 8
    factory = make_session_factory(engine)
    errors: list[BaseException] = []
    # SQLite serialises writers on one lock; a shorter run there proves the same.
    per_thread = 50 if engine.dialect.name == "postgresql" else 20

    def writer(number: int) -> None:
        try:
            for item in range(per_thread):
                with factory() as session, session.begin():
                    audit.record(
                        session=session,
                        keyring=keyring,
                        actor=Actor(ActorKind.SYSTEM, f"thread{number}"),
                        action="test.concurrent",
                        target_id=str(item),
                    )
        except BaseException as exc:  # reported below: a thread's error must fail the test
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    total = threads * per_thread
    with factory() as session:
        seqs = session.execute(text("SELECT seq FROM audit_entries ORDER BY seq")).scalars().all()
        assert seqs == list(range(1, total + 1))
        result = audit.verify(session=session, keyring=keyring)
    assert result.ok, result.problem
    assert result.checked == total
