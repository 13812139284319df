"""API keys for systems: scoped, stored as a hash, shown once, revocable, with last use.

A key reads `odpo_<id>_<secret>`. The id finds the row; the secret is 256 random bits, so a
plain SHA-256 of it is as good as a slow hash and costs nothing per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import JSON, DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.errors import InvalidValue, NotFound
from opendpo.security.audit import as_utc
from opendpo.security.roles import API_KEY_SCOPES, Permission
from opendpo.store.base import Base

PREFIX = "odpo"
TOKEN = re.compile(r"^odpo_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
# last_used_at is written at most this often, so busy keys do not cost a write per request.
TOUCH_EVERY = dt.timedelta(seconds=60)
MAX_CACHED_KEYS = 1024


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def permissions(self) -> frozenset[Permission]:
        return frozenset(Permission(scope) for scope in self.scopes)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[Permission]:
    allowed = {scope.value for scope in API_KEY_SCOPES}
    chosen: list[Permission] = []
    for scope in scopes:
        if scope not in allowed:
            raise InvalidValue(
                "scopes", f"'{scope}' is not a scope; choose from {', '.join(sorted(allowed))}"
            )
        if Permission(scope) not in chosen:
            chosen.append(Permission(scope))
    if not chosen:
        raise InvalidValue("scopes", "give a key at least one scope")
    return chosen


def create_key(
    *,
    session: Session,
    name: str,
    scopes: Iterable[str],
    created_by: str,
    now: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its token: the token is shown once and cannot be recovered."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidValue("name", "give the key a name of 1-100 characters")
    chosen = parse_scopes(scopes)
    key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        name=name,
        secret_hash=_secret_hash(secret),
        scopes=[scope.value for scope in chosen],
        created_by=created_by,
        created_at=now or dt.datetime.now(dt.UTC),
    )
    session.add(key)
    session.flush()
    return key, f"{PREFIX}_{key_id}_{secret}"


def authenticate_key(
    *, session: Session, token: str, now: dt.datetime | None = None
) -> ApiKey | None:
    match = TOKEN.match(token.strip())
    if match is None:
        return None
    key = session.get(ApiKey, match.group(1))
    if key is None or key.revoked_at is not None:
        return None
    if not secrets.compare_digest(key.secret_hash, _secret_hash(match.group(2))):
        return None
    moment = now or dt.datetime.now(dt.UTC)
    if key.last_used_at is None or moment - as_utc(key.last_used_at) >= TOUCH_EVERY:
        key.last_used_at = moment
    return key


def list_keys(*, session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())).all()


def revoke_key(*, session: Session, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("API key", key_id)
    if key.revoked_at is None:
        key.revoked_at = dt.datetime.now(dt.UTC)
    return key


@dataclass(frozen=True, slots=True)
class CheckedKey:
    """What a request needs of a key the store has just vouched for."""

    id: str
    name: str
    permissions: frozenset[Permission]


class KeyCache:
    """Keys checked in the store recently, by a hash of the whole token, for `ttl` seconds.

    A system calling the decision point at campaign rates would otherwise cost a store round
    trip per request for the key alone. Revocation reaches this process at once (`forget`)
    and every other process within `ttl`. Only the token's hash is kept, never the token.
    """

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._keys: dict[str, tuple[float, CheckedKey]] = {}

    def get(self, token: str) -> CheckedKey | None:
        if self.ttl <= 0:
            return None
        entry = self._keys.get(_secret_hash(token))
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def put(self, token: str, key: ApiKey) -> CheckedKey:
        checked = CheckedKey(key.id, key.name, key.permissions)
        if self.ttl > 0:
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.clear()  # a flood of distinct valid tokens: start again, stay small
            self._keys[_secret_hash(token)] = (self._clock(), checked)
        return checked

    def forget(self, key_id: str) -> None:
        for token_hash, (_, checked) in list(self._keys.items()):
            if checked.id == key_id:
                self._keys.pop(token_hash, None)
