"""The Redis connector's configuration: connection blocks checked field by field, collections
checked against the dataset, URLs from the environment, and the database number used."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from pydantic import ValidationError
from redis_cache import collections_config, connector
from redis_connecting import JANE, SPECS, raw, update

from opendpo.connectors.base import CollectionSpec, ConnectorError
from opendpo.connectors.redis_keys import RedisConnection

__all__ = ["raw"]  # fixtures, used by name


def connection(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "redis",
        "url": "redis://cache:s3cret-pw@127.0.0.1:6379/0",
        "collections": {"sessions": {"key": "session:{email}", "type": "hash"}},
    }
    return {**data, **overrides}


def collection(**entry: Any) -> dict[str, Any]:
    return connection(collections={"sessions": entry})


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        (
            connection(url="http://cache:s3cret-pw@host/0"),
            "url",
            "must start with redis:// or rediss://",
        ),
        (
            connection(url="redis://cache:s3cret-pw@host:port/0"),
            "url",
            "is not a valid URL (is the port a number?)",
        ),
        (
            connection(url="redis://cache:s3cret-pw@host/cache"),
            "url",
            "may only end with a database number, such as /0",
        ),
        (
            connection(url="redis://cache:s3cret-pw@host/0?db=one"),
            "url",
            "has a db= that is not a number",
        ),
        (connection(url=None), "", "give url (the Redis URL) or url_env (a variable holding it)"),
        (connection(url_env="CACHE_URL"), "", "give url or url_env, not both"),
        (
            connection(socket_timeout_seconds=0),
            "socket_timeout_seconds",
            "Input should be greater than 0",
        ),
        (
            connection(collections={}),
            "collections",
            "Dictionary should have at least 1 item after validation, not 0",
        ),
        (
            collection(key="session:{email", type="hash"),
            "collections.sessions.key",
            "'{' at position 9 is not closed",
        ),
        (
            collection(key="session:}", type="hash"),
            "collections.sessions.key",
            "'}' at position 9 closes nothing (write '}}')",
        ),
        (
            collection(key="session:{}", type="hash"),
            "collections.sessions.key",
            "'{}' at position 9 names no field",
        ),
        (
            collection(key="cart:{customer_id}{email}", type="hash"),
            "collections.sessions.key",
            "{customer_id} and {email} need some text between them, or keys could not be read back",
        ),
        (
            collection(key="s:{email}:{email}", type="hash"),
            "collections.sessions.key",
            "{email} appears twice",
        ),
        (collection(key="", type="hash"), "collections.sessions.key", "is empty"),
        (
            collection(key="s", type="stream"),
            "collections.sessions.type",
            "Input should be 'hash', 'string', 'set', 'sorted_set' or 'list'",
        ),
        (
            collection(key="s", type="set"),
            "collections.sessions",
            "member_field: a set needs the field its members are",
        ),
        (
            collection(key="s", type="hash", member_field="email"),
            "collections.sessions",
            "member_field: only sets, sorted sets and lists have members, not a hash",
        ),
        (
            collection(key="s", type="list", member_field="x", value_field="y"),
            "collections.sessions",
            "value_field: only a string holds one plain value, not a list",
        ),
        (
            collection(key="s", type="string", value_field="t", restriction_field="r"),
            "collections.sessions",
            "restriction_field: only a hash or a JSON string can hold a restriction flag",
        ),
        (
            collection(key="s:{email}", type="set", member_field="email"),
            "collections.sessions",
            "member_field: 'email' is a placeholder of the key, not a value",
        ),
        (
            collection(key="s", type="hash", ttl=5),
            "collections.sessions.ttl",
            "Extra inputs are not permitted",
        ),
    ],
)
def test_connection_blocks_are_checked_field_by_field(
    data: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        RedisConnection.model_validate(data)

    error = raised.value.errors()[0]
    assert ".".join(str(part) for part in error["loc"]) == where
    assert error["msg"].removeprefix("Value error, ") == message
    assert "s3cret-pw" not in str(raised.value)


def entries(**changed: dict[str, Any] | None) -> dict[str, Any]:
    found: dict[str, Any] = collections_config("p:")
    for name, entry in changed.items():
        if entry is None:
            del found[name]
        else:
            found[name] = {**found[name], **entry}
    return found


@pytest.mark.parametrize(
    ("collections", "message"),
    [
        (
            entries(sessions={"key": "session:{emial}"}),
            "collections.sessions: placeholder {emial} in key 'session:{emial}' is not a field of "
            "web_cache.sessions (fields: email, ip, restricted, token, visits)",
        ),
        (
            entries(carts={"key": "cart:{address}"}),
            "collections.carts: placeholder {address} names a field with nested fields",
        ),
        (
            entries(subscribers={"member_field": "mail"}),
            "collections.subscribers: member_field 'mail' is not a field of web_cache.subscribers "
            "(fields: email)",
        ),
        (
            entries(sessions={"restriction_field": "flag"}),
            "collections.sessions: restriction_field 'flag' is not a field of web_cache.sessions "
            "(fields: email, ip, restricted, token, visits)",
        ),
        (entries(tokens=None), "collections: say which keys hold web_cache.tokens"),
        (
            {**entries(), "orders": {"key": "order:{id}", "type": "hash"}},
            "collections.orders: no collection of this system's datasets is called 'orders' "
            "(collections: carts, contacts, leaderboards, sessions, subscribers, tokens, viewed)",
        ),
        (
            entries(carts={"type": "hash"}),
            "collections.carts: a hash holds flat fields, but web_cache.carts nests fields under "
            "address",
        ),
        (
            entries(leaderboards={"key": "leaderboard:weekly"}),
            "collections.leaderboards: a sorted_set keyed 'leaderboard:weekly' can only hold "
            "email, not board",
        ),
        (
            entries(contacts={"key": "crm:contact:{email}"}),
            "collections.contacts: the primary key of web_cache.contacts must include the fields "
            "that locate a row in Redis: email",
        ),
    ],
)
def test_collections_are_checked_against_the_dataset(
    collections: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConnectorError) as raised:
        connector("redis://127.0.0.1:6379/0", "p:", collections=collections)

    assert raised.value.message == f"web_cache: {message}"
    assert raised.value.retryable is False


def test_url_env_is_read_from_the_environment_given_and_checked() -> None:
    with pytest.raises(ConnectorError) as unset:
        connector(None, "p:", url_env="CACHE_URL", environ={"OTHER": "redis://h/0"})
    with pytest.raises(ConnectorError) as malformed:
        connector(
            None, "p:", url_env="CACHE_URL", environ={"CACHE_URL": "http://cache:s3cret-pw@h/0"}
        )

    assert unset.value.message == (
        "web_cache: url_env names CACHE_URL, which is not set in the environment"
    )
    assert malformed.value.message == (
        "web_cache: url_env: the URL in CACHE_URL must start with redis:// or rediss://"
    )
    assert (unset.value.retryable, malformed.value.retryable) == (False, False)


@pytest.mark.redis
def test_url_env_connects(redis_prefix: tuple[str, str], raw: redis.Redis) -> None:
    url, prefix = redis_prefix
    raw.set(f"{prefix}token:{JANE}", "t")
    cache = connector(None, prefix, url_env="CACHE_URL", environ={"CACHE_URL": url})

    assert list(cache.find(SPECS["tokens"], {"email": [JANE]})) == [{"email": JANE, "token": "t"}]
    cache.close()


def test_tls_urls_and_database_numbers_are_accepted() -> None:
    for url in (
        "rediss://cache:pw@redis.example.com:6380/2",
        "redis://localhost",
        "redis://localhost:6379/",
        "redis://localhost/0?db=3",
    ):
        parsed = RedisConnection.model_validate(connection(url=url))
        assert parsed.url is not None and parsed.url.get_secret_value() == url


@pytest.mark.redis
def test_the_database_number_in_the_url_is_the_one_read(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    other_url = url.rsplit("/", 1)[0] + "/1"
    other = redis.Redis.from_url(other_url, decode_responses=True)
    other.set(f"{prefix}token:{JANE}", "in database 1")
    try:
        in_zero = connector(url, prefix)
        in_one = connector(other_url, prefix)
        assert list(in_zero.find(SPECS["tokens"], {"email": [JANE]})) == []
        assert list(in_one.find(SPECS["tokens"], {"email": [JANE]})) == [
            {"email": JANE, "token": "in database 1"}
        ]
        in_zero.close()
        in_one.close()
    finally:
        other.delete(f"{prefix}token:{JANE}")
        other.close()


def test_collections_of_other_systems_and_unknown_fields_are_refused() -> None:
    cache = connector("redis://127.0.0.1:6379/0", "p:")
    stranger = CollectionSpec("crm_db", "sessions", SPECS["sessions"].fields)

    with pytest.raises(ConnectorError) as foreign:
        list(cache.find(stranger, {"email": [JANE]}))
    with pytest.raises(ConnectorError) as unknown:
        list(cache.find(SPECS["sessions"], {"mail": [JANE]}))
    with pytest.raises(ConnectorError) as unlocated:
        cache.apply([update("carts", {"email": JANE}, items=[])])
    with pytest.raises(ConnectorError) as no_such_field:
        cache.apply([update("sessions", {"email": JANE}, password="x")])
    with pytest.raises(ConnectorError) as key_to_null:
        cache.apply([update("sessions", {"email": JANE}, email=None)])

    assert foreign.value.message == "web_cache: crm_db.sessions is not held by this system"
    assert unknown.value.message == "web_cache: web_cache.sessions has no field 'mail'"
    assert unlocated.value.message == (
        "web_cache: web_cache.carts: a change must name 'customer_id' to locate its row"
    )
    assert no_such_field.value.message == "web_cache: web_cache.sessions has no field 'password'"
    assert key_to_null.value.message == (
        "web_cache: web_cache.sessions: 'email' locates the row in Redis ('p:session:{email}'), "
        "so it can only be set to text or an integer; erase the row instead"
    )
    assert [
        e.value.retryable for e in (foreign, unknown, unlocated, no_such_field, key_to_null)
    ] == [False] * 5
    cache.close()
