"""The Redis connector: rows held in keys, hashes, sets, sorted sets and lists, located by key
patterns that embed identities.

A system's connection block says, for each collection of its dataset, which keys hold it:

    connection:
      type: redis
      url_env: SESSIONS_REDIS_URL   # redis://[user:password@]host:6379/0, or rediss://
      collections:
        sessions: {key: "session:{email}", type: hash, restriction_field: restricted}
        carts: {key: "cart:{customer_id}:{email}", type: string}  # a JSON object
        tokens: {key: "token:{email}", type: string, value_field: token}
        subscribers: {key: "newsletter:subscribers", type: set, member_field: email}

A placeholder may hold any characters; `{{` and `}}` are literal braces. Rows are the dataset's
fields: placeholders read back from the key, plus a hash's fields, a JSON object's keys, a
plain string's value or a member.

`find` reads keys that a pattern's values fill in one pipelined round trip per thousand keys,
and SCANs with MATCH where values fill only part of a pattern (redis_reads). `apply` runs a
batch as one MULTI/EXEC transaction under WATCH, worked out against what the keys hold
(redis_writes) and retried when another client changes them in between.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal, cast
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    AuthorizationError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    WatchError,
)
from redis.retry import Retry

from opendpo.connectors.base import (
    Applied,
    Change,
    CollectionSpec,
    ConnectorError,
    Row,
    apply_each,
)
from opendpo.connectors.redis_layout import SET_LIKE, KeyPattern, Kind, Layout
from opendpo.connectors.redis_reads import Reader
from opendpo.connectors.redis_writes import Replay, plan, probes, read_state
from opendpo.connectors.secrets import resolve_secret

logger = logging.getLogger(__name__)

ATTEMPTS = 5  # optimistic transactions retried on WatchError
# What Redis may get over by itself: a replica being promoted, memory freed, a script ending.
PASSING = ("BUSY", "LOADING", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN")
REFUSED = ("WRONGPASS", "NOAUTH", "NOPERM")
PIPELINE_COMMAND = re.compile(r"^Command # \d+ \(.*\) of pipeline caused error: ", re.DOTALL)


def url_problem(url: str) -> str | None:
    """What is wrong with a Redis URL, in words that never repeat it (it holds a password)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "is not a valid URL (is the port a number?)"
    if parts.scheme not in {"redis", "rediss"}:
        return "must start with redis:// or rediss://"
    if not parts.hostname:
        return "names no host"
    if parts.path not in {"", "/"} and not re.fullmatch(r"/\d+", parts.path):
        return "may only end with a database number, such as /0"
    if any(not db.isdigit() for db in parse_qs(parts.query).get("db", [])):
        return "has a db= that is not a number"
    return None


class RedisCollection(BaseModel):
    """Where one dataset collection lives: `key` locates it, `type` says how rows are held."""

    model_config = ConfigDict(extra="forbid")

    key: str
    type: Kind
    # string: the value is this field's plain text instead of a JSON object of fields.
    value_field: str | None = None
    # set, sorted_set, list: the field each member is.
    member_field: str | None = None
    # hash or JSON string: the field holding a restriction flag.
    restriction_field: str | None = None

    @field_validator("key")
    @classmethod
    def _pattern(cls, value: str) -> str:
        KeyPattern.parse(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RedisCollection:
        pattern = KeyPattern.parse(self.key)
        set_like = self.type in SET_LIKE
        if set_like and self.member_field is None:
            raise ValueError(f"member_field: a {self.type} needs the field its members are")
        if not set_like and self.member_field is not None:
            raise ValueError(
                f"member_field: only sets, sorted sets and lists have members, not a {self.type}"
            )
        if self.value_field is not None and self.type != "string":
            raise ValueError(f"value_field: only a string holds one plain value, not a {self.type}")
        if self.restriction_field is not None and (set_like or self.value_field is not None):
            raise ValueError(
                "restriction_field: only a hash or a JSON string can hold a restriction flag"
            )
        for name in ("value_field", "member_field", "restriction_field"):
            value = getattr(self, name)
            if value is not None and value in pattern.fields:
                raise ValueError(f"{name}: '{value}' is a placeholder of the key, not a value")
        return self


class RedisConnection(BaseModel):
    # The URL may hold a password: errors never echo what was given.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: Literal["redis"]
    url: SecretStr | None = None
    url_env: str | None = None
    socket_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    # Dataset collection name -> the keys holding it.
    collections: dict[str, RedisCollection] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        problem = url_problem(value.get_secret_value()) if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_url(self) -> RedisConnection:
        if self.url is None and self.url_env is None:
            raise ValueError("give url (the Redis URL) or url_env (a variable holding it)")
        if self.url is not None and self.url_env is not None:
            raise ValueError("give url or url_env, not both")
        return self


class RedisConnector:
    """One Redis server (one database of it) holding some dataset collections."""

    def __init__(
        self,
        name: str,
        config: RedisConnection,
        collections: Sequence[CollectionSpec],
        *,
        environ: Mapping[str, str],
    ) -> None:
        self.name = name
        held = {spec.name for spec in collections}
        for unknown in config.collections:
            if unknown not in held:
                raise ConnectorError(
                    name,
                    f"collections.{unknown}: no collection of this system's datasets is called "
                    f"'{unknown}' (collections: {', '.join(sorted(held))})",
                    retryable=False,
                )
        self._layouts: dict[str, Layout] = {}
        for spec in collections:
            entry = config.collections.get(spec.name)
            if entry is None:
                raise ConnectorError(
                    name, f"collections: say which keys hold {spec.key}", retryable=False
                )
            self._layouts[spec.name] = Layout.build(name, entry, spec)
        url = resolve_url(name, config, environ)
        password = urlsplit(url).password
        self._secrets = tuple({password, unquote(password)}) if password else ()
        timeout = config.socket_timeout_seconds
        try:
            self._client = redis.Redis.from_url(
                url,
                decode_responses=True,
                # Keys that are not UTF-8 still round-trip from find to apply.
                encoding_errors="surrogateescape",
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                # One quick reconnect for a pooled connection the server dropped; the engine
                # backs off for anything longer.
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
                health_check_interval=30,
                # Named, so the server's CLIENT LIST shows whose connections these are.
                client_name="opendpo:" + re.sub(r"[^\w.:-]", "_", name),
            )
        except ValueError as exc:
            raise ConnectorError(name, f"url: {self._scrub(str(exc))}", retryable=False) from None
        self._reader = Reader(name, self._client)

    def reading(self) -> AbstractContextManager[None]:
        return nullcontext()  # each look-up is its own request: nothing to share

    def check(self) -> str:
        try:
            info = cast(dict[str, Any], self._client.info("server"))
        except RedisError as exc:
            raise self._error(exc) from exc
        return f"Redis {info['redis_version']}"

    def restriction_field(self, collection: CollectionSpec) -> str | None:
        """The field that holds a restriction flag in `collection`, if the config names one."""
        return self._layout(collection).restriction_field

    def find(self, collection: CollectionSpec, where: Mapping[str, Sequence[Any]]) -> Iterator[Row]:
        layout = self._layout(collection)
        query = layout.query(self.name, where)
        if query.empty:
            return
        try:
            yield from self._reader.rows(layout, query)
        except RedisError as exc:
            raise self._error(exc, layout) from exc

    def apply_batches(self, batches: Iterable[Sequence[Change]]) -> Applied:
        return apply_each(self, batches)  # no transaction spans calls: each batch alone

    def apply(self, changes: Sequence[Change]) -> Applied:
        steps = [plan(self.name, self._layout(c.collection), c) for c in changes]
        untouched = {step.layout.spec.key: 0 for step in steps}
        if not steps:
            return Applied({})
        whole, members = probes(steps)
        watched = sorted({*whole, *members})
        try:
            for attempt in range(1, ATTEMPTS + 1):
                with self._client.pipeline(transaction=True) as transaction:
                    transaction.watch(*watched)  # type: ignore[no-untyped-call]
                    replay = Replay(self.name, *read_state(self._client, whole, members))
                    for step in steps:
                        replay.run(step)
                    if replay.commands:
                        transaction.multi()
                        for command in replay.commands:
                            transaction.execute_command(*command)  # type: ignore[no-untyped-call]
                        try:
                            transaction.execute()
                        except WatchError:
                            logger.info(
                                "%s: keys changed under a batch (attempt %d)", self.name, attempt
                            )
                            continue
                return Applied({**untouched, **replay.changed})
        except RedisError as exc:
            raise self._error(exc) from exc
        raise ConnectorError(
            self.name, f"the keys of a batch kept changing over {ATTEMPTS} attempts"
        )

    def close(self) -> None:
        self._client.close()

    def _layout(self, collection: CollectionSpec) -> Layout:
        layout = self._layouts.get(collection.name)
        if layout is None or layout.spec.key != collection.key:
            raise ConnectorError(
                self.name, f"{collection.key} is not held by this system", retryable=False
            )
        return layout

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _error(self, exc: RedisError, layout: Layout | None = None) -> ConnectorError:
        # redis-py prefixes a pipeline's error with the command, whose key is personal data.
        text = self._scrub(PIPELINE_COMMAND.sub("", str(exc)))
        where = f"{layout.spec.key}: " if layout is not None else ""
        refused = (
            AuthenticationError,
            AuthorizationError,
            AuthenticationWrongNumberOfArgsError,
            NoPermissionError,
        )
        if isinstance(exc, refused) or text.startswith(REFUSED):
            return ConnectorError(self.name, f"Redis refused us: {text}", retryable=False)
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            return ConnectorError(self.name, f"cannot reach Redis: {text}")
        if not isinstance(exc, ResponseError):
            return ConnectorError(self.name, f"{where}Redis failed: {text}")
        if text.startswith("WRONGTYPE"):
            kind = f"a {layout.kind}" if layout is not None else "what its collection says"
            pattern = f" matching '{layout.pattern.text}'" if layout is not None else ""
            return ConnectorError(
                self.name,
                f"{where}a key{pattern} holds another type than {kind}",
                retryable=False,
            )
        passing = isinstance(exc, ReadOnlyError | OutOfMemoryError) or text.startswith(PASSING)
        return ConnectorError(
            self.name, f"{where}Redis refused a command: {text}", retryable=passing
        )


def resolve_url(system: str, config: RedisConnection, environ: Mapping[str, str]) -> str:
    url = resolve_secret(system, "url", config.url, config.url_env, environ)
    problem = url_problem(url)
    if problem is not None:
        raise ConnectorError(
            system, f"url_env: the URL in {config.url_env} {problem}", retryable=False
        )
    return url
