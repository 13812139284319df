"""The store's PostgreSQL connections keep their prepared statements across read-only work.

psycopg prepares a statement once a connection has run it five times, so that PostgreSQL
parses and plans it once; a busy store's statements are the same few dozen over and over.
But psycopg forgets every prepared statement, and its tally of the others, on each ROLLBACK
(it cannot tell whether the transaction changed what they refer to). SQLAlchemy ends every
transaction that was not committed with a ROLLBACK: each read-only session (a web page, a
worker polling its plan) and each pooled connection handed back. So in practice the store's
statements were never prepared, and each was parsed and planned on every run: about a third
of the server's time for one person's request (benchmarks/RESULTS.md, session 10).

A transaction that wrote nothing ends the same way whether committed or rolled back, and
PostgreSQL can say whether it wrote: a transaction is given an id at its first write. So a
rollback of one that has none is sent as a COMMIT, which keeps psycopg's statements; a
transaction that wrote anything, or failed, is rolled back as before. (A session-level
`SET` inside a read-only transaction would then outlive it; the store only uses `SET LOCAL`.)
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Engine, event

# NULL until the transaction writes (PostgreSQL 13 and later).
_WROTE = "SELECT pg_current_xact_id_if_assigned() IS NOT NULL"


class StoreConnection(psycopg.Connection[Any]):
    def rollback(self) -> None:
        if self.info.transaction_status == pq.TransactionStatus.INTRANS:
            row = self.execute(_WROTE).fetchone()
            if row is not None and not row[0]:
                self.commit()
                return
        super().rollback()


def keep_prepared_statements(engine: Engine) -> None:
    """Make the engine's new connections `StoreConnection`s (psycopg 3 only)."""

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> StoreConnection:
        return StoreConnection.connect(*cargs, **cparams)
