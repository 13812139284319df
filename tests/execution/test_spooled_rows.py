"""Rows set aside in sealed spools come back as they went in, in order, per collection."""

from __future__ import annotations

import datetime as dt
import decimal

from opendpo.execution.spooled_rows import SpooledRows
from opendpo.security.sealed_spool import CHUNK_BYTES


def test_rows_come_back_in_order_per_collection_across_chunks() -> None:
    long = "x" * (CHUNK_BYTES // 3)  # rows that straddle the spool's chunks
    with SpooledRows() as spooled:
        for n in range(20):
            spooled.add("shop.orders", {"id": n, "note": long, "big": 2**70 + n})
            spooled.add("shop.customers", {"id": n, "email": f"p{n}@example.com"})
        at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        spooled.add(
            "web.logins", {"at": at, "amount": decimal.Decimal("10.50"), "raw": b"\x00\xff"}
        )
        assert spooled.counts == {"shop.orders": 20, "shop.customers": 20, "web.logins": 1}
        orders = list(spooled.rows("shop.orders"))
        assert [r["id"] for r in orders] == list(range(20))
        assert all(r["note"] == long for r in orders)
        assert orders[7]["big"] == 2**70 + 7  # exact: not turned into a float
        assert list(spooled.rows("shop.customers"))[3] == {"id": 3, "email": "p3@example.com"}
        # Stored as the row store keeps values JSON has no type for.
        assert list(spooled.rows("web.logins")) == [
            {"at": "2026-01-02T03:04:05+00:00", "amount": "10.50", "raw": "00ff"}
        ]
        assert list(spooled.rows("shop.orders")) == orders  # read as often as asked
        assert list(spooled.rows("never.added")) == []
