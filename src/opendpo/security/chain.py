"""Hash chains: each entry's MAC covers its contents and the previous entry's MAC.

One row per chain in `hash_chain_heads` holds the last sequence number and MAC. Advancing the
head is the first write of the transaction, so concurrent writers queue on that row (a row
lock on PostgreSQL, the write lock on SQLite) and every chain stays a single line. Sequence
numbers come from the head, not from autoincrement, so a deleted entry leaves a visible gap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from opendpo.store.base import Base

GENESIS = "0" * 64
VERIFY_BATCH = 2000


class ChainHead(Base):
    __tablename__ = "hash_chain_heads"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


def advance(*, session: Session, chain: str) -> tuple[int, str]:
    """Reserve the next sequence number; returns it with the MAC of the entry before it."""
    result = session.execute(
        update(ChainHead).where(ChainHead.name == chain).values(seq=ChainHead.seq + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"hash chain '{chain}' has no head row: is the store migrated?")
    seq, previous = session.execute(
        select(ChainHead.seq, ChainHead.hash).where(ChainHead.name == chain)
    ).one()
    return seq, previous


def seal(*, session: Session, chain: str, entry_hash: str) -> None:
    session.execute(update(ChainHead).where(ChainHead.name == chain).values(hash=entry_hash))


def head(*, session: Session, chain: str) -> tuple[int, str]:
    seq, value = session.execute(
        select(ChainHead.seq, ChainHead.hash).where(ChainHead.name == chain)
    ).one()
    return seq, value


def entry_mac(key: bytes, previous: str, fields: dict[str, Any]) -> str:
    """The MAC of one entry: canonical JSON of its fields, chained to the previous MAC."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, f"{previous}\n{canonical}".encode(), hashlib.sha256).hexdigest()


class ChainedEntry(Protocol):
    seq: Any
    prev_hash: Any
    hash: Any

    def fields(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    problem: str | None = None
    first_bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _entries(session: Session, model: type[ChainedEntry]) -> Iterator[ChainedEntry]:
    seq: InstrumentedAttribute[int] = model.seq
    last = 0
    while True:
        batch = session.scalars(select(model).where(seq > last).order_by(seq).limit(VERIFY_BATCH))
        entries = batch.all()
        if not entries:
            return
        yield from entries
        last = entries[-1].seq
        session.expunge_all()  # bounded memory on a long chain


def verify_chain(
    *,
    session: Session,
    model: type[ChainedEntry],
    chain: str,
    key: bytes,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Walk a chain from the start; the first entry that does not fit is reported."""
    expected_seq, previous, checked = 1, GENESIS, 0
    for entry in _entries(session, model):
        if entry.seq != expected_seq:
            return VerifyResult(
                checked,
                f"entry {expected_seq} is missing (the next entry is {entry.seq}): "
                "entries were deleted",
                expected_seq,
            )
        if entry.prev_hash != previous:
            return VerifyResult(
                checked,
                f"entry {entry.seq} does not follow entry {entry.seq - 1}: "
                "entries were deleted, reordered or swapped",
                entry.seq,
            )
        if entry_mac(key, previous, entry.fields()) != entry.hash:
            return VerifyResult(
                checked,
                f"entry {entry.seq} was edited: its contents do not match its hash",
                entry.seq,
            )
        previous, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
        if progress is not None:
            progress(1)
    head_seq, head_hash = head(session=session, chain=chain)
    if head_seq != checked or head_hash != previous:
        return VerifyResult(
            checked,
            f"the chain ends at entry {checked} but {head_seq} entries were written: "
            "the latest entries were deleted or the chain head was altered",
            checked + 1,
        )
    return VerifyResult(checked)
