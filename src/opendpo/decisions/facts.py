"""What the store knows about an identity for one use, in one query; and the expressions
that read each fact, which `chunk_facts` builds the bulk path's statement from too.

`decide` asks `gather` for one identity. The statement is built once per (dialect, identity
kind, purpose, channel) and cached: building a select construct costs more than running it
for one identity, and SQLAlchemy then finds its compiled form in the engine's cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Select,
    String,
    bindparam,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from opendpo.consent.ledger import CurrentConsent
from opendpo.consent.suppression import ALL_PURPOSES, Suppression
from opendpo.decisions.rules import Facts, Rule
from opendpo.policy.versions import PolicyVersion
from opendpo.security.audit import as_utc
from opendpo.subjects.flags import FlagKind, ProcessingFlag
from opendpo.subjects.people import Identity, Person

# Which identity kinds a channel reaches a person through (for suppression).
CHANNEL_IDENTITIES = {"email": ("email",), "sms": ("phone",), "phone": ("phone",)}

IDENTITIES = Identity.__table__
PEOPLE = Person.__table__
CONSENTS = CurrentConsent.__table__
SUPPRESSIONS = Suppression.__table__
FLAGS = ProcessingFlag.__table__

POLICIES = PolicyVersion.__table__

# What is known of one identity: (person?, subscriber, consent state, consent expiry,
# needs renewal, suppressed, objected, restricted). Equal tuples decide equally.
Known = tuple[Any, ...]


class Found(NamedTuple):
    blind_index: str
    person_id: str | None
    known: Known
    # The digest of the policy in force when the facts were read: a caller holding a parsed
    # policy learns in the same round trip whether a newer one has been applied since.
    policy_digest: str | None


def gather(
    session: Session | Connection, rule: Rule, kind: str, indexes: list[str]
) -> Iterator[Found]:
    """What is known of each blind index, known or not, in one query.

    A bare Connection skips the ORM's bookkeeping (a tenth of a single decision's cost over
    HTTP); a Session sees its own unflushed changes.

    The facts: the person and their subscriber kind, the current consent for this purpose
    and channel, any suppression of the address or of the person's other addresses on this
    channel, and active objections and restrictions.
    """
    bind = session.get_bind() if isinstance(session, Session) else session
    dialect = bind.dialect.name
    single = len(indexes) == 1
    statement = facts_statement(dialect, kind, rule.purpose, rule.channel.value, single=single)
    # A list is one parameter (an array on PostgreSQL, JSON elsewhere): no limit on bound
    # parameters and none of the cost of an expanding IN list.
    values: Any = indexes if dialect == "postgresql" else json.dumps(indexes)
    if single:
        values = indexes[0]
    for row in session.execute(statement, {"indexes": values}):
        yield Found(row[0], row[1], tuple(row[2:-1]), row[-1])


def facts_from(known: Known, gpc: bool) -> Facts:
    person, subscriber, state, expires_at, renewal, suppressed, objected, restricted = known
    if not person:
        return Facts(suppressed=bool(suppressed), gpc=gpc)
    return Facts(
        known=True,
        subscriber=subscriber,
        consent_state=state,
        consent_expires_at=as_utc(expires_at) if expires_at is not None else None,
        needs_renewal=bool(renewal),
        suppressed=bool(suppressed),
        restricted=bool(restricted),
        objected=bool(objected),
        gpc=gpc,
    )


def _listed(dialect: str, single: bool) -> Any:
    if single:
        # A plain parameter, not a one-element array: PostgreSQL then plans the prepared
        # statement once (a generic plan) instead of again on every call, which would cost
        # several times the query itself.
        return select(bindparam("indexes", type_=String).label("value")).subquery("listed")
    if dialect == "postgresql":
        array = bindparam("indexes", type_=ARRAY(String))
        return func.unnest(array).table_valued("value").render_derived()
    return func.json_each(bindparam("indexes", type_=String)).table_valued("value")


@lru_cache(maxsize=256)
def facts_statement(
    dialect: str, kind: str, purpose: str, channel: str, *, single: bool = False
) -> Select[Any]:
    listed = _listed(dialect, single)
    index = listed.c.value
    identity = IDENTITIES.alias("identity")
    return (
        select(
            index,
            identity.c.person_id,
            identity.c.person_id.is_not(None),
            PEOPLE.c.subscriber,
            CONSENTS.c.state,
            CONSENTS.c.expires_at,
            CONSENTS.c.needs_renewal,
            suppressed(kind, purpose, channel, identity, index),
            flagged(FlagKind.OBJECTION, purpose, identity),
            flagged(FlagKind.RESTRICTION, purpose, identity),
            select(POLICIES.c.digest).order_by(POLICIES.c.number.desc()).limit(1).scalar_subquery(),
        )
        .select_from(listed)
        .outerjoin(identity, (identity.c.kind == kind) & (identity.c.blind_index == index))
        .outerjoin(PEOPLE, PEOPLE.c.id == identity.c.person_id)
        .outerjoin(CONSENTS, consent_of(purpose, channel, identity))
    )


def consent_of(purpose: str, channel: str, identity: Any) -> Any:
    """The join condition of the identity's person's current consent for this use."""
    return (
        (CONSENTS.c.person_id == identity.c.person_id)
        & (CONSENTS.c.purpose == purpose)
        & (CONSENTS.c.channel == channel)
    )


def suppressed(
    kind: str,
    purpose: str,
    channel: str,
    identity: Any,
    index: Any,
    *,
    sets: bool = False,
    people: bool = False,
) -> Any:
    """1 if the address `index` is suppressed for this use or, when it is a known person's,
    any of the person's addresses on this channel is; else NULL.

    `identity` is the outer-joined identity of the address (NULL for a stranger). With
    `sets` the address is looked up in the set of suppressed addresses, which the store
    builds once per statement: on PostgreSQL, for a chunk of thousands, cheaper than a
    probe of the index for each (see `chunk_facts`); for one address dearer. With `people`
    too, the person in the set of people with a suppressed address, which costs a probe
    per suppression to build: cheaper only while suppressions are few next to the chunk.
    """
    purposes = (purpose, ALL_PURPOSES)
    reach = CHANNEL_IDENTITIES.get(channel, ())
    other = IDENTITIES.alias("other")

    def suppression_of(blind_index: Any) -> Any:
        return (
            (SUPPRESSIONS.c.blind_index == blind_index)
            & (SUPPRESSIONS.c.channel == channel)
            & any_of(SUPPRESSIONS.c.purpose, purposes)
        )

    persons = (
        select(literal(1))
        .select_from(other)
        .join(SUPPRESSIONS, suppression_of(other.c.blind_index))
        .where(other.c.person_id == identity.c.person_id, any_of(other.c.kind, reach))
    )
    person = one_if(persons)
    if sets and people:
        holders = (
            select(other.c.person_id)
            .join(SUPPRESSIONS, suppression_of(other.c.blind_index))
            .where(any_of(other.c.kind, reach))
        )
        person = case((identity.c.person_id.in_(holders), 1))
    if sets:
        listed = select(SUPPRESSIONS.c.blind_index).where(
            SUPPRESSIONS.c.channel == channel, any_of(SUPPRESSIONS.c.purpose, purposes)
        )
        address: Any = case((index.in_(listed), 1))
    else:
        address = one_if(select(literal(1)).where(suppression_of(index)))
    if not reach:  # only channels that reach an address have suppressions
        return null()
    if kind in reach:  # the address is one of the person's own: `person` covers it
        return case((identity.c.person_id.is_(None), address), else_=person)
    return func.coalesce(address, person)


def flagged(flag: FlagKind, purpose: str, identity: Any, *, sets: bool = False) -> Any:
    """1 if the identity's person has an active flag of this kind for the purpose, else NULL.

    With `sets`, a lookup in the set of flagged people, as in `suppressed`."""
    if sets:
        holders = select(FLAGS.c.person_id).where(
            FLAGS.c.kind == flag.value,
            FLAGS.c.lifted_at.is_(None),
            any_of(FLAGS.c.purpose, (purpose, ALL_PURPOSES)),
        )
        return case((identity.c.person_id.in_(holders), 1))
    return one_if(
        select(literal(1)).where(
            FLAGS.c.person_id == identity.c.person_id,
            FLAGS.c.kind == flag.value,
            FLAGS.c.lifted_at.is_(None),
            any_of(FLAGS.c.purpose, (purpose, ALL_PURPOSES)),
        )
    )


def any_of(column: Any, values: tuple[str, ...]) -> Any:
    """`column` equals one of a few values, each its own parameter: IN would be expanded
    into parameters on every execution, costing more than the probe it guards."""
    if not values:
        return false()
    return or_(*(column == value for value in values))


def one_if(query: Select[Any]) -> Any:
    """1 if the query finds a row, else NULL: a subquery run per row, by index.

    Not EXISTS: PostgreSQL may turn an EXISTS into a hashed subplan that joins whole tables
    (every identity to every suppression) once per chunk; LIMIT 1 keeps it a probe.
    """
    return query.limit(1).scalar_subquery()
