"""The bulk path's own statement and pipeline against `decide`: every rule, lapses at the
very moment of the decision, and streams that stop early or fail part-way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from agreement import NOW, PROOF, Use, bulk, copies_for_people, populate, single
from decision_policy import (
    CONTRACT,
    CONTROLLER,
    EXPIRING,
    LI_MARKETING,
    LI_PURPOSE,
    PROCESSOR,
    RENEWAL_ALLOWED,
    decision_policy,
)
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import opendpo.decisions.bulk as bulk_module
from opendpo.consent.ledger import Channel, ConsentState, append
from opendpo.decisions import whole_list
from opendpo.decisions.bulk import decide_many
from opendpo.decisions.chunk_facts import MIN_CHUNK_FOR_PEOPLE
from opendpo.decisions.rules import Reason, Rule
from opendpo.security.keyring import Keyring, generate_keyring
from opendpo.store.encrypted import attach_keyring
from opendpo.store.engine import make_session_factory
from opendpo.store.migrate import upgrade
from opendpo.subjects.people import find_or_create_person

POLICY = decision_policy()
MARKETING = "marketing_email"
CONSENTS = [
    (purpose, channel)
    for purpose in (MARKETING, EXPIRING, RENEWAL_ALLOWED, LI_MARKETING, LI_PURPOSE, CONTRACT)
    for channel in (Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.POST)
]
USES: list[Use] = [
    (MARKETING, "email", None, False),
    (MARKETING, "email", PROCESSOR, True),
    (EXPIRING, "sms", None, False),
    (RENEWAL_ALLOWED, "email", None, False),
    (LI_MARKETING, "email", None, False),  # PECR: the subscriber decides
    (LI_MARKETING, "sms", None, False),
    (LI_MARKETING, "post", None, False),
    (LI_PURPOSE, "phone", None, False),
    (CONTRACT, "email", CONTROLLER, True),
    (CONTRACT, "post", PROCESSOR, False),
]


def test_every_kind_of_rule_agrees_with_single_decisions(
    session: Session, keyring: Keyring
) -> None:
    rows = populate(
        session, keyring, 160, seed=11, consents=CONSENTS, flag_purposes=[MARKETING, LI_PURPOSE]
    )
    by_use: dict[Use, set[tuple[bool, tuple[Reason, ...]]]] = {}
    for use in USES:
        expected = [single(session, keyring, POLICY, row, use) for row in rows]
        # Small chunks look a person's suppressed addresses up row by row; a chunk of
        # thousands next to a few suppressions, in the set of people (on PostgreSQL).
        for copies, chunk_size in ((1, 29), (copies_for_people(rows), MIN_CHUNK_FOR_PEOPLE)):
            outcomes = bulk(session, keyring, POLICY, rows * copies, use, chunk_size=chunk_size)
            for outcome, wanted in zip(outcomes, expected * copies, strict=True):
                assert outcome == wanted, (use, chunk_size, outcome)
                by_use.setdefault(use, set()).add((outcome.allowed, outcome.reasons))
    # Corporate subscribers may be emailed on legitimate interests and others may not: the
    # subscriber was read where the rule asks for it.
    pecr = by_use[(LI_MARKETING, "email", None, False)]
    assert (True, ()) in pecr and (False, (Reason.BASIS_DOES_NOT_COVER,)) in pecr
    seen = {reason for found in by_use.values() for _, reasons in found for reason in reasons}
    assert set(Reason) <= seen


def _expiring_at(session: Session, keyring: Keyring, email: str, expires: dt.datetime) -> None:
    person = find_or_create_person(session=session, keyring=keyring, identities=[("email", email)])
    append(
        session=session,
        keyring=keyring,
        person_id=person.id,
        purpose=EXPIRING,
        channel=Channel.EMAIL,
        state=ConsentState.GIVEN,
        proof=PROOF,
        notice_version="1.0",
        policy_version=1,
        wording=None,
        expires_at=expires,
        now=NOW - dt.timedelta(days=30),
    )


@pytest.mark.parametrize("zone", [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))])
def test_a_consent_lapses_at_the_moment_of_its_expiry(
    session: Session, keyring: Keyring, zone: dt.tzinfo
) -> None:
    """The store compares the expiry with the moment of the decision, given in any zone."""
    tick = dt.timedelta(microseconds=1)
    moments = {"earlier": NOW - tick, "now": NOW, "later": NOW + tick}
    for name, expires in moments.items():
        _expiring_at(session, keyring, f"{name}@example.com", expires)
    session.flush()
    rows = [("email", f"{name}@example.com") for name in moments]
    use: Use = (EXPIRING, "email", None, False)
    now = NOW.astimezone(zone)
    outcomes = bulk(session, keyring, POLICY, rows, use, chunk_size=2, now=now)
    assert [o.reasons for o in outcomes] == [(Reason.EXPIRED,), (Reason.EXPIRED,), ()]
    assert outcomes == [single(session, keyring, POLICY, row, use, now) for row in rows]


def _fans(session: Session, keyring: Keyring, count: int) -> list[tuple[str, str]]:
    rows = []
    for number in range(count):
        email = f"fan{number}@example.com"
        person = find_or_create_person(
            session=session, keyring=keyring, identities=[("email", email)]
        )
        append(
            session=session,
            keyring=keyring,
            person_id=person.id,
            purpose=MARKETING,
            channel=Channel.EMAIL,
            state=ConsentState.GIVEN,
            proof=PROOF,
            notice_version="1.0",
            policy_version=1,
            wording=None,
            now=NOW,
        )
        rows.append(("email", email))
    session.flush()
    return rows


def _stream(
    session: Session, keyring: Keyring, rows: Sequence[tuple[str, str]], *, whole: bool = True
) -> Any:
    return decide_many(
        session=session,
        keyring=keyring,
        policy=POLICY,
        purpose=MARKETING,
        channel="email",
        rows=iter(rows),
        now=NOW,
        chunk_size=3,
        whole=whole,
    )


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "chunks"])
def test_a_stream_left_part_way_leaves_the_session_free(
    session: Session, keyring: Keyring, whole: bool
) -> None:
    rows = _fans(session, keyring, 12)
    stream: Iterator[Any] = _stream(session, keyring, rows, whole=whole)
    assert [next(stream).allowed for _ in range(4)] == [True] * 4
    stream.close()  # while a later chunk had been looked up, or the list's cursor was open
    assert session.execute(text("SELECT 41 + 1")).scalar_one() == 42
    assert [o.allowed for o in _stream(session, keyring, rows, whole=whole)] == [True] * 12


def test_a_whole_list_leaves_no_table_behind(session: Session, keyring: Keyring) -> None:
    if session.get_bind().dialect.name != "postgresql":
        # SQLite probes in-process for less than a join would cost: it keeps to chunks.
        assert not whole_list.worth_it(session)
        return
    rows = _fans(session, keyring, 7)

    def lists() -> int:
        return int(
            session.execute(
                text("SELECT count(*) FROM pg_class WHERE relname LIKE 'opendpo_list_%'")
            ).scalar_one()
        )

    before = lists()
    assert [o.allowed for o in _stream(session, keyring, rows)] == [True] * 7
    assert lists() == before  # read to the end: dropped at once
    stream = _stream(session, keyring, rows)
    next(stream)
    stream.close()
    assert lists() == before + 1  # left part way: it lasts as long as the transaction
    session.commit()
    assert lists() == before  # ON COMMIT DROP: a pooled connection carries nothing on


def test_a_failed_look_up_reaches_the_reader_at_its_chunk(
    session: Session, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _fans(session, keyring, 9)
    looked_up = 0
    real_read_chunk = bulk_module.read_chunk

    def failing_second(
        session: Session,
        rule: Rule,
        kind: str,
        indexes: list[str],
        now: dt.datetime,
        **options: bool,
    ) -> Sequence[Any]:
        nonlocal looked_up
        looked_up += 1
        if looked_up == 2:
            raise ConnectionError("the store went away")
        return real_read_chunk(session, rule, kind, indexes, now, **options)

    monkeypatch.setattr(bulk_module, "read_chunk", failing_second)
    taken = []
    # The second chunk is looked up before the first one's outcomes are handed out (so the
    # session is never shared with the reader): its failure comes first.
    with pytest.raises(ConnectionError, match="went away"):
        taken.extend(_stream(session, keyring, rows, whole=False))
    assert taken == [] and looked_up == 2
    assert session.execute(text("SELECT 1")).scalar_one() == 1


def test_an_empty_list_decides_nothing(session: Session, keyring: Keyring) -> None:
    assert list(_stream(session, keyring, [])) == []


def test_an_in_memory_sqlite_store_is_decided_in_its_own_thread() -> None:
    # Such an engine keeps a connection (and so a database) per thread: a worker thread
    # would look in an empty one.
    keyring = generate_keyring()
    engine = create_engine("sqlite://")
    attach_keyring(engine.dialect, keyring, None)
    try:
        upgrade(engine)
        with make_session_factory(engine)() as session:
            rows = [*_fans(session, keyring, 5), ("email", "nobody@example.com")]
            assert [o.allowed for o in _stream(session, keyring, rows)] == [True] * 5 + [False]
    finally:
        engine.dispose()
