"""What the store knows about a chunk of a campaign list: one set-based query, a row a place.

The chunk's blind indexes travel as one parameter (a comma-separated string split by
PostgreSQL, a JSON array read by SQLite's `json_each`); each is looked up in identities and
current consents by index, and in the suppressions and flags (on PostgreSQL, in sets of
them built once per chunk), all in one statement. Each row is one place of the chunk, in
order: the person (if known) and a key of what decides, small and hashable, so that a list
of millions shares a few dozen keys and `rules.evaluate` runs once for each.

The facts are those `facts.gather` reads for `decide`, built from the same expressions, with
two differences that cannot change a decision:
- the consent's expiry is compared with the moment of the decision in the store, so the key
  says whether the consent had lapsed, not when (`evaluate` asks nothing else of it);
- the subscriber is read only for a rule that asks for it (`Rule.asks_subscriber`).
Tests hold the two paths to the same decisions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    func,
    null,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from opendpo.consent.suppression import ALL_PURPOSES
from opendpo.decisions.facts import (
    CONSENTS,
    IDENTITIES,
    PEOPLE,
    SUPPRESSIONS,
    any_of,
    consent_of,
    flagged,
    suppressed,
)
from opendpo.decisions.rules import Facts, Rule
from opendpo.subjects.flags import FlagKind
from opendpo.subjects.people import Subscriber

# `few_suppressions`: fewer than one suppression for every PEOPLE_SET_RATIO rows of a chunk,
# and chunks of at least MIN_CHUNK_FOR_PEOPLE rows (smaller ones are not worth a count).
PEOPLE_SET_RATIO = 4
MIN_CHUNK_FOR_PEOPLE = 5000
# What decides for one place: (known, subscriber, consent state, lapsed, needs renewal,
# suppressed, objected, restricted). Equal keys decide equally. The person id precedes it.
Key = tuple[Any, ...]


def plan_for_chunks(session: Session) -> None:
    """Set up the session's transaction (only it) for chunk statements.

    A chunk is small next to the tables it is looked up in: probing their indexes costs a
    little per row of the chunk, where a hash or merge join reads the whole table again for
    every chunk. Seeing 20,000 rows, PostgreSQL's planner would pick the latter (measured at
    1,000,000 people: 2.0 s a chunk instead of 0.4 s). JIT would compile every chunk's
    statement for longer than it runs. And parallel workers, started afresh for a chunk,
    would take the second core from the Python side, which works while the store does.
    """
    if session.get_bind().dialect.name == "postgresql":
        for setting in ("enable_hashjoin", "enable_mergejoin", "jit"):
            session.execute(text(f"SET LOCAL {setting} = off"))
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        # The chunk's blind indexes (50,000 of 65 characters) are held while the statement
        # runs: the stock 4 MB would spill them to a temporary file, written and read back
        # for every chunk.
        session.execute(text("SET LOCAL work_mem = '16MB'"))


def few_suppressions(session: Session, rule: Rule, chunk_size: int) -> bool:
    """Whether suppressions are few enough next to a chunk that PostgreSQL had better find
    the people of every suppressed address once per chunk (a probe per suppression) than
    probe the addresses of each row's person (a probe per row). Measured on the benchmark
    (chunks of 50,000): 3,000 suppressions, the set cost 23% less store time; 30,000, the
    probes 13% less. Counted once per list, and only for chunks of thousands."""
    if session.get_bind().dialect.name != "postgresql" or chunk_size < MIN_CHUNK_FOR_PEOPLE:
        return False
    return suppressions(session, rule) * PEOPLE_SET_RATIO < chunk_size


def suppressions(session: Session, rule: Rule) -> int:
    """How many suppressions could apply to the rule's channel and purpose."""
    channel, purposes = rule.channel.value, (rule.purpose, ALL_PURPOSES)
    count = session.execute(
        select(func.count())
        .select_from(SUPPRESSIONS)
        .where(SUPPRESSIONS.c.channel == channel, any_of(SUPPRESSIONS.c.purpose, purposes))
    ).scalar_one()
    return int(count)


def read_chunk(
    session: Session,
    rule: Rule,
    kind: str,
    indexes: list[str],
    now: dt.datetime,
    *,
    people: bool = False,
) -> Sequence[Any]:
    """One row per blind index, in order: (person id, *key). `people`: see `few_suppressions`."""
    dialect = session.get_bind().dialect.name
    statement = chunk_statement(
        dialect,
        kind,
        rule.purpose,
        rule.channel.value,
        subscriber=rule.asks_subscriber,
        people=people,
    )
    # Blind indexes are hex digests: a comma cannot occur in one.
    listed = ",".join(indexes) if dialect == "postgresql" else json.dumps(indexes)
    # Stored times are UTC (naive on SQLite), so the moment is compared in UTC too.
    parameters = {"indexes": listed, "now": now.astimezone(dt.UTC)}
    # A Core select gives a CursorResult. Its rows are read from the driver as plain
    # tuples: SQLAlchemy's Row objects cost more to make, and the garbage collector keeps
    # tracking them where it drops tuples of plain values, so thousands of them a chunk
    # brought on a full collection every other chunk (a tenth of a second each).
    result = cast(CursorResult[Any], session.execute(statement, parameters))
    try:
        rows: Sequence[Any] = result.cursor.fetchall()
    finally:
        result.close()
    return rows


def facts_of(key: Key, gpc: bool, now: dt.datetime) -> Facts:
    known, subscriber, state, lapsed, renewal, suppression, objected, restricted = key
    if not known:
        return Facts(suppressed=bool(suppression), gpc=gpc)
    return Facts(
        known=True,
        # Read only for a rule that asks; any other leaves the default.
        subscriber=subscriber if subscriber is not None else Subscriber.UNKNOWN.value,
        consent_state=state,
        # The store has compared the expiry with `now`: for a decision at `now`, a consent
        # that had lapsed lapsed at `now` at the latest, and a later expiry is no expiry.
        consent_expires_at=now if lapsed else None,
        needs_renewal=bool(renewal),
        suppressed=bool(suppression),
        objected=bool(objected),
        restricted=bool(restricted),
        gpc=gpc,
    )


@lru_cache(maxsize=256)
def chunk_statement(
    dialect: str, kind: str, purpose: str, channel: str, *, subscriber: bool, people: bool
) -> Select[Any]:
    listed, place = _listed(dialect)
    # PostgreSQL pays several microseconds of executor overhead for each probe of an index,
    # so suppressions and flags (small tables) are looked up in sets it hashes once per
    # chunk. SQLite probes an index for a fraction of that, and would rebuild the sets for
    # every chunk: 1.7 s against 1.0 s for 100,000 rows at 1,000,000 people.
    return facts_over(
        listed,
        listed.c.value,
        kind,
        purpose,
        channel,
        subscriber=subscriber,
        people=people,
        sets=dialect == "postgresql",
    ).order_by(place)


def facts_over(
    listed: Any,
    index: Any,
    kind: str,
    purpose: str,
    channel: str,
    *,
    subscriber: bool,
    people: bool,
    sets: bool,
    leading: Sequence[Any] = (),
) -> Select[Any]:
    """(*leading, person id, *key) for each row of `listed`, whose column `index` holds a
    blind index of an identity of `kind`: the facts of a row, from any source of them."""
    identity = IDENTITIES.alias("identity")
    lapsed = CONSENTS.c.expires_at <= bindparam("now", type_=CONSENTS.c.expires_at.type)
    # Typed as integers, which no driver or SQLAlchemy converts: a Boolean column would run a
    # Python conversion on every row for a value that only goes into a key.
    statement = select(
        *leading,
        identity.c.person_id,
        type_coerce(identity.c.person_id.is_not(None), Integer),
        PEOPLE.c.subscriber if subscriber else null(),
        CONSENTS.c.state,
        type_coerce(lapsed, Integer),
        type_coerce(CONSENTS.c.needs_renewal, Integer),
        suppressed(kind, purpose, channel, identity, index, sets=sets, people=people),
        flagged(FlagKind.OBJECTION, purpose, identity, sets=sets),
        flagged(FlagKind.RESTRICTION, purpose, identity, sets=sets),
    ).select_from(listed)
    statement = statement.outerjoin(
        identity, (identity.c.kind == kind) & (identity.c.blind_index == index)
    )
    if subscriber:
        statement = statement.outerjoin(PEOPLE, PEOPLE.c.id == identity.c.person_id)
    return statement.outerjoin(CONSENTS, consent_of(purpose, channel, identity))


def _listed(dialect: str) -> tuple[Any, Any]:
    """The chunk's blind indexes as a table, and the column giving each one's place."""
    values = bindparam("indexes", type_=String)
    if dialect == "postgresql":
        split = func.unnest(func.string_to_array(values, ","))
        table = split.table_valued("value", with_ordinality="place").render_derived()
        return table, table.c.place
    table = func.json_each(values).table_valued("key", "value")
    return table, table.c.key
