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
from typing import Any

from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.store.base import Base

GENESIS = "0" * 64


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
