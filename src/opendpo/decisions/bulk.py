"""Many decisions at once, for a campaign list: the same rules as `decide`, facts set-based.

Rows stream in and outcomes stream out, a chunk at a time, so a list of millions needs the
memory of a few chunks. Per chunk the addresses are normalised and blind-indexed in Python
(the index is a keyed hash: the store cannot compute it), then one query per identity kind
in the chunk fetches a row of facts for each place (`chunk_facts`). `rules.evaluate` then
decides each distinct set of facts once, as the single decision would, so the two paths
cannot disagree; every row gets its outcome with the reasons and the person.

The store looks a chunk up while Python hashes the next one, and the loop over the rows
does no more than it must: no object per row but the outcome, no dictionary work but one
lookup of the row's facts among the few distinct ones seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from itertools import chain, islice
from typing import Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import SingletonThreadPool

from opendpo.decisions import whole_list
from opendpo.decisions.chunk_facts import (
    Key,
    facts_of,
    few_suppressions,
    plan_for_chunks,
    read_chunk,
    suppressions,
)
from opendpo.decisions.rules import Reason, Rule, evaluate, rule_for
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.subjects.identities import IdentityKind, normalise

KINDS = {kind.value: kind for kind in IdentityKind}
KIND_NUMBERS = {kind: number for number, kind in enumerate(KINDS)}
# A plain ASCII dot-atom address. email_validator hands such a local part back unchanged, so
# only the domain needs its full (IDNA-aware, slow) check, and a list has few domains: the
# check runs once per domain. Anything else takes the full `normalise`, errors included.
PLAIN_EMAIL = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@([A-Za-z0-9.-]+)"
)
MAX_LOCAL = 64  # RFC 5321 limits, which email_validator enforces
MAX_ADDRESS = 254
# Rows decided per query; memory is bounded by a few chunks whatever the list's length
# (measured: 8 MiB at most on SQLite, 80 MiB on PostgreSQL). PostgreSQL pays a round trip,
# a plan and the sets of suppressions and flags once per chunk, so larger chunks win there
# (at 1,000,000 people, 200,000 rows took 2.7 s of server time in chunks of 50,000 and
# 2.9 s in chunks of 20,000); SQLite, in process, gains nothing past 5,000.
DEFAULT_CHUNK_SIZE = 5000
CHUNK_SIZES = {"postgresql": 50_000}


class BulkOutcome(NamedTuple):
    """One row's answer: `kind` and `value` as given; `error` when the row was malformed.

    A named tuple, not a dataclass: one is made for every row of the list, and a tuple is
    made several times faster than a frozen dataclass.
    """

    kind: str
    value: str
    allowed: bool
    reasons: tuple[Reason, ...]
    person_id: str | None
    error: str | None


def decide_many(
    *,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    purpose: str,
    channel: str,
    recipient: str | None = None,
    gpc: bool = False,
    rows: Iterable[tuple[str, str]],
    now: dt.datetime | None = None,
    chunk_size: int | None = None,
    whole: bool = True,
) -> Iterator[BulkOutcome]:
    """Decide every (kind, value) row for one use, in input order.

    On PostgreSQL a list longer than one chunk is decided whole (`whole_list`): loaded
    first, then answered by one statement; `whole=False` keeps to chunks, whose outcomes
    start after the first chunk instead of after the whole list.

    Not a generator itself: an unknown purpose, channel or recipient raises InvalidValue
    here, before any row is read. A malformed row gets an outcome with `error` (the message
    `decide` would raise) and the stream goes on. On PostgreSQL the session's transaction
    keeps the planner settings of `chunk_facts.plan_for_chunks` until it ends.
    """
    if chunk_size is None:
        chunk_size = CHUNK_SIZES.get(session.get_bind().dialect.name, DEFAULT_CHUNK_SIZE)
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    rule = rule_for(policy, purpose=purpose, channel=channel, recipient=recipient)
    decider = ChunkDecider(session, RowIndexer(keyring), rule, gpc, now or dt.datetime.now(dt.UTC))
    decider.whole_lists = whole and whole_list.worth_it(session)
    return decider.stream(iter(rows), chunk_size)


class Chunk:
    """A chunk of the list on its way through: its rows, then per place the row of facts
    or the error message of a malformed row."""

    __slots__ = ("found", "listed", "rows")

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows
        self.found: list[Any] = [None] * len(rows)
        # Per identity kind: the places of its rows and their blind indexes, in order.
        self.listed: dict[str, tuple[list[int], list[str]]] = {}


class ChunkDecider:
    """Decides a list chunk by chunk, remembering each distinct key's answer across chunks
    (there are a few dozen at most: the key holds no person, date or address).

    The store looks one chunk up (in a worker thread, with the session) while Python hashes
    the next, so on two cores each works while the other does: about a fifth less time for
    100,000 rows on either store. A look-up is finished before any outcome is handed out,
    so the caller never shares the session with the worker. Rows are read at most two
    chunks ahead of the outcomes.
    """

    def __init__(
        self, session: Session, indexer: RowIndexer, rule: Rule, gpc: bool, now: dt.datetime
    ) -> None:
        self.session = session
        self.indexer = indexer
        self.rule = rule
        self.gpc = gpc
        self.now = now
        self.answers: dict[Key, tuple[bool, tuple[Reason, ...]]] = {}
        self.people = False
        self.whole_lists = False

    def stream(self, rows: Iterator[tuple[str, str]], chunk_size: int) -> Iterator[BulkOutcome]:
        plan_for_chunks(self.session)
        pieces = iter(lambda: list(islice(rows, chunk_size)), [])
        first, second = next(pieces, None), next(pieces, None)
        if first is None:
            return
        # By the chunk as read: a short list (a web batch) is not worth counting for.
        self.people = few_suppressions(self.session, self.rule, len(first))
        if second is not None and self.whole_lists:
            yield from self.whole(chain([first, second], pieces))
            return
        if second is None or not _shared_across_threads(self.session):
            # One chunk has nothing to overlap with; an in-memory SQLite database has a
            # connection per thread, so a worker would look in another (empty) database.
            for piece in chain([first], [second] if second else [], pieces):
                yield from self.outcomes(self.look_up(self.hash(piece)))
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decide-many") as worker:
            looking: Future[Chunk] | None = worker.submit(self.look_up, self.hash(first))
            upcoming: Chunk | None = self.hash(second)
            while looking is not None:
                current = looking.result()
                looking = worker.submit(self.look_up, upcoming) if upcoming else None
                following = next(pieces, None)
                upcoming = self.hash(following) if following else None
                if looking is not None:
                    looking.result()  # the session is the caller's alone while it reads
                yield from self.outcomes(current)

    def whole(self, pieces: Iterator[list[tuple[str, str]]]) -> Iterator[BulkOutcome]:
        """The list through `whole_list`: loaded as it is hashed, then read in one go."""
        listed = whole_list.ListTable(self.session)
        kinds: set[str] = set()

        def loaded() -> Iterator[whole_list.Loaded]:
            place, index_of, storable, held = 0, self.indexer, whole_list.storable, whole_list.held
            for piece in pieces:
                for kind, value in piece:
                    number, index, error = KIND_NUMBERS.get(kind), None, None
                    try:
                        index = index_of(kind, value)
                    except InvalidValue as exc:
                        number, error = None, exc.message
                    else:
                        kinds.add(kind)
                    if storable(kind) and storable(value) and (error is None or storable(error)):
                        yield place, number, kind, value, index, error, None
                    else:
                        yield place, number, None, None, index, None, held(kind, value, error)
                    place += 1

        listed.load(loaded())
        # A probe per suppression (the set of people with one) or a probe per row: fewer wins.
        people = suppressions(self.session, self.rule) < listed.rows
        answers, answer, outcome = self.answers, self.answer, tuple.__new__
        rows = listed.read(self.rule, list(KINDS), self.now, loaded=kinds, people=people)
        at, unheld = whole_list.KEY_AT, whole_list.unheld
        for row in rows:
            kind, value, error = row[1:4] if row[4] is None else unheld(row[4])
            if error is not None:
                yield outcome(BulkOutcome, (kind, value, False, (), None, error))
                continue
            key = row[at:]
            allowed, reasons = answers.get(key) or answer(key)
            yield outcome(BulkOutcome, (kind, value, allowed, reasons, row[at - 1], None))

    def hash(self, rows: list[tuple[str, str]]) -> Chunk:
        chunk = Chunk(rows)
        found, listed, index_of = chunk.found, chunk.listed, self.indexer
        for place, (kind, value) in enumerate(rows):
            try:
                index = index_of(kind, value)
            except InvalidValue as exc:
                found[place] = exc.message
                continue
            places = listed.get(kind)
            if places is None:
                places = listed[kind] = ([], [])
            places[0].append(place)
            places[1].append(index)
        return chunk

    def look_up(self, chunk: Chunk) -> Chunk:
        found = chunk.found
        for kind, (places, indexes) in chunk.listed.items():
            rows = read_chunk(self.session, self.rule, kind, indexes, self.now, people=self.people)
            for place, row in zip(places, rows, strict=True):
                found[place] = row
        return chunk

    def outcomes(self, chunk: Chunk) -> Iterator[BulkOutcome]:
        # Made as they are read, not listed first: a list of a chunk's outcomes would live
        # long enough for the garbage collector to promote them, and a full collection (a
        # tenth of a second with the application loaded) would follow every few chunks.
        answers, answer, outcome = self.answers, self.answer, tuple.__new__
        for (kind, value), row in zip(chunk.rows, chunk.found, strict=True):
            if type(row) is str:  # a malformed row: this is its message
                yield outcome(BulkOutcome, (kind, value, False, (), None, row))
                continue
            key = row[1:]
            allowed, reasons = answers.get(key) or answer(key)
            # tuple.__new__ makes the named tuple without a Python-level __new__ call.
            yield outcome(BulkOutcome, (kind, value, allowed, reasons, row[0], None))

    def answer(self, key: Key) -> tuple[bool, tuple[Reason, ...]]:
        decision = evaluate(self.rule, facts_of(key, self.gpc, self.now), self.now)
        self.answers[key] = (decision.allowed, decision.reasons)
        return self.answers[key]


def _shared_across_threads(session: Session) -> bool:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return not isinstance(engine.pool, SingletonThreadPool)


class RowIndexer:
    """The blind index of each row's identity, as `Keyring.blind_index` computes it.

    The HMAC is keyed once per list rather than once per row (deriving the key is itself
    an HMAC): the saving is a third of the Python time per row.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._keyed = hmac.new(keyring.derived_key("blind-index"), digestmod=hashlib.sha256)

    def __call__(self, kind: str, value: str) -> str:
        """InvalidValue, worded as `decide` words it, for a malformed row."""
        known = KINDS.get(kind)
        if known is None:
            listed = ", ".join(KINDS)
            raise InvalidValue("identity.kind", f"'{kind}' is not an identity kind ({listed})")
        normal = fast_email(value) if known is IdentityKind.EMAIL else None
        if normal is None:
            normal = normalise(known, value, field="identity.value")
        mac = self._keyed.copy()
        mac.update(f"{kind}\x00{normal}".encode())
        return mac.hexdigest()


def fast_email(value: str) -> str | None:
    """`normalise`'s answer for a plain address, or None to let `normalise` decide."""
    match = PLAIN_EMAIL.fullmatch(value.strip())
    if match is None or len(match[1]) > MAX_LOCAL:
        return None
    domain = _email_domain(match[2])
    if domain is None:
        return None
    normal = f"{match[1]}@{domain}".lower()
    return normal if len(normal) <= MAX_ADDRESS else None


@lru_cache(maxsize=65_536)
def _email_domain(domain: str) -> str | None:
    # Checked by `normalise` itself, so the two cannot differ on what a valid domain is.
    try:
        return normalise(IdentityKind.EMAIL, "a@" + domain).partition("@")[2]
    except InvalidValue:
        return None
