"""Bulk and single decisions side by side, over a store filled with random facts.

`populate` gives people every kind of fact the decision point reads (identities of several
kinds, subscribers, consents in every state with and without expiry or renewal, suppressions
of their addresses, objections and restrictions, some lifted) and returns a campaign list
naming them in any spelling, with strangers (some suppressed) and malformed rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from unittest.mock import patch

from sqlalchemy.orm import Session

from opendpo.consent.ledger import (
    Channel,
    CollectionMethod,
    ConsentState,
    CurrentConsent,
    Proof,
    append,
)
from opendpo.consent.suppression import ALL_PURPOSES, SuppressionReason, suppress
from opendpo.decisions import bulk as bulk_module
from opendpo.decisions.bulk import BulkOutcome, decide_many
from opendpo.decisions.chunk_facts import MIN_CHUNK_FOR_PEOPLE
from opendpo.decisions.decide import decide
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.subjects.flags import FlagKind, add_flag, lift_flag
from opendpo.subjects.people import find_or_create_person

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
PROOF = Proof(method=CollectionMethod.IMPORT, source="test")
MALFORMED = [("email", "not an address"), ("fax", "01234"), ("phone", "12"), ("email", " ")]
# (purpose, channel, recipient, gpc)
Use = tuple[str, str, str | None, bool]


def populate(
    session: Session,
    keyring: Keyring,
    count: int,
    *,
    seed: int,
    consents: Sequence[tuple[str, Channel]],
    flag_purposes: Sequence[str],
) -> list[tuple[str, str]]:
    """`count` people with random facts; the rows of a campaign list that names them all."""
    rng = random.Random(seed)
    rows: list[tuple[str, str]] = []
    for number in range(count):
        identities = [("email", f"person{number}@example.co.uk")]
        if rng.random() < 0.6:
            identities.append(("phone", f"+4477009{number:05d}"))
        if rng.random() < 0.3:
            identities.append(("cookie_id", f"cookie-{number}"))
        if rng.random() < 0.2:  # a second address, so a suppression of it counts
            identities.append(("email", f"person{number}.work@example.com"))
        person = find_or_create_person(session=session, keyring=keyring, identities=identities)
        person.subscriber = rng.choice(["individual", "corporate", "unknown"])
        _consent(session, keyring, person.id, rng, consents)
        for kind, value in identities:
            if kind != "cookie_id" and rng.random() < 0.12:
                suppress(
                    session=session,
                    keyring=keyring,
                    kind=kind,
                    value=value,
                    channel=rng.choice(["email", "phone", "sms"]),
                    purpose=rng.choice([*flag_purposes, ALL_PURPOSES]),
                    reason=SuppressionReason.UNSUBSCRIBED,
                    now=NOW,
                )
        for flag_kind in FlagKind:
            if rng.random() < 0.1:
                flag = add_flag(
                    session=session,
                    person_id=person.id,
                    kind=flag_kind,
                    purpose=rng.choice([*flag_purposes, ALL_PURPOSES]),
                    now=NOW,
                )
                if rng.random() < 0.3:
                    lift_flag(session=session, flag=flag, reason="resolved", now=NOW)
        # The list names people by any of their identities, in any spelling.
        kind, value = rng.choice(identities)
        rows.append((kind, value.upper() if kind == "email" and rng.random() < 0.2 else value))
    for number in range(count // 5):
        unknown = f"stranger{number}@example.org"
        if rng.random() < 0.3:
            suppress(
                session=session,
                keyring=keyring,
                kind="email",
                value=unknown,
                channel="email",
                reason=SuppressionReason.ERASURE,
                now=NOW,
            )
        rows.append(("email", unknown))
    rows.extend(MALFORMED)
    rows.append(("email", "person0@example.co.uk"))  # the same person twice in one list
    rng.shuffle(rows)
    session.flush()
    return rows


def _consent(
    session: Session,
    keyring: Keyring,
    person_id: str,
    rng: random.Random,
    consents: Sequence[tuple[str, Channel]],
) -> None:
    for purpose, channel in consents:
        if rng.random() < 0.3:
            continue  # never asked
        for _ in range(rng.choice((1, 1, 2))):  # sometimes a later answer replaces one
            expires = rng.choice([None, None, NOW + dt.timedelta(days=30), NOW - dt.timedelta(1)])
            append(
                session=session,
                keyring=keyring,
                person_id=person_id,
                purpose=purpose,
                channel=channel,
                state=rng.choice(list(ConsentState) + [ConsentState.GIVEN] * 3),
                proof=PROOF,
                notice_version="1.0",
                policy_version=1,
                wording=None,
                expires_at=expires,
                now=NOW - dt.timedelta(days=rng.randint(1, 400)),
            )
        if rng.random() < 0.15:
            session.get_one(
                CurrentConsent, (person_id, purpose, channel.value)
            ).needs_renewal = True


def copies_for_people(rows: Sequence[tuple[str, str]]) -> int:
    """How many copies of the list fill a chunk big enough for the set of suppressed people
    (`chunk_facts.few_suppressions`)."""
    return -(-MIN_CHUNK_FOR_PEOPLE // len(rows))


def single(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    row: tuple[str, str],
    use: Use,
    now: dt.datetime = NOW,
) -> BulkOutcome:
    """`decide` for one row, as the bulk path reports it."""
    purpose, channel, recipient, gpc = use
    try:
        outcome = decide(
            session=session,
            keyring=keyring,
            policy=policy,
            identity_kind=row[0],
            identity_value=row[1],
            purpose=purpose,
            channel=channel,
            recipient=recipient,
            gpc=gpc,
            now=now,
        )
    except InvalidValue as exc:
        return BulkOutcome(row[0], row[1], False, (), None, exc.message)
    allowed, reasons = outcome.decision.allowed, outcome.decision.reasons
    return BulkOutcome(row[0], row[1], allowed, reasons, outcome.person_id, None)


def bulk(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    rows: Sequence[tuple[str, str]],
    use: Use,
    *,
    chunk_size: int,
    now: dt.datetime = NOW,
) -> list[BulkOutcome]:
    """The outcomes, the same whether the list is decided in chunks or (PostgreSQL) whole,
    and whole with the suppressed people found as a set or probed row by row."""
    purpose, channel, recipient, gpc = use

    def decided(whole: bool) -> list[BulkOutcome]:
        return list(
            decide_many(
                session=session,
                keyring=keyring,
                policy=policy,
                purpose=purpose,
                channel=channel,
                recipient=recipient,
                gpc=gpc,
                rows=iter(rows),
                now=now,
                chunk_size=chunk_size,
                whole=whole,
            )
        )

    found = decided(False)
    for suppressions in (0, 10**9):  # few (a set of people) or many (a probe per row)
        with patch.object(bulk_module, "suppressions", return_value=suppressions):
            assert decided(True) == found, "chunked and whole-list decisions differ"
    return found
