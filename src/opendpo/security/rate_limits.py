"""Rate limits for public endpoints, per client address and per identity (the `limits` package).

In-process by default; with OPENDPO_REDIS_URL every API process shares one count, so adding
processes does not multiply what an attacker may try.
"""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from opendpo.errors import InvalidValue
from opendpo.security.errors import RateLimited


def parse_limit(text: str, *, field: str) -> RateLimitItem:
    """'10/minute', '5 per hour' ...; InvalidValue naming `field` otherwise."""
    try:
        return parse(text)
    except ValueError:
        raise InvalidValue(field, f"'{text}' is not a rate limit such as '10/minute'") from None


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        storage = storage_from_string(redis_url) if redis_url else MemoryStorage()
        if not isinstance(storage, Storage):  # an async URL scheme such as async+redis://
            raise InvalidValue("OPENDPO_REDIS_URL", "use a redis:// URL")
        self.storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(self.storage)

    def hit(self, limit: RateLimitItem, scope: str, key: str) -> None:
        """Count one use of `scope` by `key`; RateLimited (with Retry-After seconds) past limit.

        Identities are hashed before they become storage keys: Redis must not hold emails.
        """
        hashed = hashlib.sha256(key.encode()).hexdigest()[:32]
        if self._limiter.hit(limit, scope, hashed):
            return
        stats = self._limiter.get_window_stats(limit, scope, hashed)
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    def reset(self) -> None:
        self.storage.reset()
