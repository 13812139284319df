"""The Redis connector on a real Redis: rows of hashes, JSON and plain strings, sets, sorted
sets and lists found by exact keys and by SCAN; idempotent, atomic, TTL-keeping changes;
configuration errors; and what it says when Redis is away or refuses us."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pydantic import ValidationError
from redis_cache import collections_config, config, connector, specs

from opendpo.connectors import redis_keys, redis_writes
from opendpo.connectors.base import Change, ChangeAction, CollectionSpec, ConnectorError
from opendpo.connectors.redis_keys import RedisConnection, RedisConnector
from opendpo.connectors.redis_layout import KeyPattern

JANE = "jane@example.com"
BOB = "bob@example.com"
# Every glob character SCAN MATCH knows, and the key's separator, inside identities.
GLOBBY = "j*n?[ae]\\:x@example.com"
SPECS = specs()


@pytest.fixture
def raw(redis_prefix: tuple[str, str]) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_prefix[0], decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def cache(redis_prefix: tuple[str, str]) -> Iterator[RedisConnector]:
    url, prefix = redis_prefix
    opened = connector(url, prefix)
    yield opened
    opened.close()


def rows(found: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(found, key=lambda row: json.dumps(row, sort_keys=True))


def by_customer_id(row: dict[str, Any]) -> str:
    return str(row["customer_id"])


def update(collection: str, key: dict[str, Any], **values: Any) -> Change:
    return Change(SPECS[collection], key, ChangeAction.UPDATE, values)


def delete(collection: str, key: dict[str, Any]) -> Change:
    return Change(SPECS[collection], key, ChangeAction.DELETE)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class RoundTrips:
    """Counts the requests written to Redis sockets (a pipeline is one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counted(connection: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(connection, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)


# Finding rows


@pytest.mark.redis
def test_check_names_the_server_and_version(cache: RedisConnector, raw: redis.Redis) -> None:
    version = raw.info("server")["redis_version"]

    assert cache.check() == f"Redis {version}"


@pytest.mark.redis
def test_hash_rows_by_exact_key_in_one_round_trip(
    cache: RedisConnector,
    raw: redis.Redis,
    redis_prefix: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = redis_prefix[1]
    raw.hset(
        f"{prefix}session:{JANE}",
        mapping={
            "token": "t-1",
            "ip": "192.0.2.1",
            "visits": "7",
            "restricted": "0",
            "unlisted": "not in the dataset",
        },
    )
    for n in range(40):
        raw.hset(f"{prefix}session:user{n}@example.com", mapping={"token": f"t{n}"})
    cache.check()
    trips = RoundTrips(monkeypatch)

    found = rows(
        cache.find(
            SPECS["sessions"], {"email": [JANE, *(f"user{n}@example.com" for n in range(40))]}
        )
    )

    by_email = {row["email"]: row for row in found}
    assert trips.count == 1
    assert len(found) == 41
    assert by_email[JANE] == {
        "email": JANE,
        "token": "t-1",
        "ip": "192.0.2.1",
        "visits": 7,
        "restricted": False,
    }
    assert by_email["user39@example.com"] == {
        "email": "user39@example.com",
        "token": "t39",
        "ip": None,
        "visits": None,
        "restricted": None,
    }


@pytest.mark.redis
def test_json_strings_by_partial_pattern_parse_the_other_placeholders(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    cart = {"items": [{"sku": "A1", "qty": 2}], "address": {"city": "Leeds", "postcode": "LS1"}}
    raw.set(f"{prefix}cart:42:{JANE}", json.dumps(cart))
    raw.set(f"{prefix}cart:7:{JANE}", json.dumps({"items": [], "restricted": True}))
    raw.set(f"{prefix}cart:43:{BOB}", json.dumps({"items": []}))

    by_email = sorted(cache.find(SPECS["carts"], {"email": [JANE]}), key=by_customer_id)
    by_customer = list(cache.find(SPECS["carts"], {"customer_id": ["43"]}))

    assert by_email == [
        {
            "customer_id": 42,
            "email": JANE,
            "items": [{"sku": "A1", "qty": 2}],
            "address": {"city": "Leeds", "postcode": "LS1"},
            "restricted": None,
        },
        {"customer_id": 7, "email": JANE, "items": [], "address": None, "restricted": True},
    ]
    assert by_customer == [
        {"customer_id": 43, "email": BOB, "items": [], "address": None, "restricted": None}
    ]


@pytest.mark.redis
def test_glob_characters_and_separators_in_identities_match_only_themselves(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.set(f"{prefix}cart:1:{GLOBBY}", json.dumps({"items": ["mine"]}))
    # Each of these would match if the value went into MATCH unescaped.
    for lookalike in (
        "jXnaa\\:x@example.com",
        "j*n?e\\:x@example.com",
        "jan?[ae]:x@example.com",
        "j*n?[ae]\\:x@example.com.evil",
    ):
        raw.set(f"{prefix}cart:2:{lookalike}", json.dumps({"items": ["not mine"]}))
    raw.set(f"{prefix}cart:3:4:{GLOBBY}", json.dumps({"items": ["id with a colon"]}))

    found = sorted(cache.find(SPECS["carts"], {"email": [GLOBBY]}), key=by_customer_id)

    assert found == [
        {"customer_id": 1, "email": GLOBBY, "items": ["mine"], "address": None, "restricted": None},
        {
            "customer_id": "3:4",
            "email": GLOBBY,
            "items": ["id with a colon"],
            "address": None,
            "restricted": None,
        },
    ]


@pytest.mark.redis
def test_plain_strings_hold_one_field(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    raw.set(f"{redis_prefix[1]}token:{JANE}", "reset-8f3a")

    assert list(cache.find(SPECS["tokens"], {"email": [JANE, BOB]})) == [
        {"email": JANE, "token": "reset-8f3a"}
    ]
    assert list(cache.find(SPECS["tokens"], {"token": ["reset-8f3a"]})) == [
        {"email": JANE, "token": "reset-8f3a"}
    ]


@pytest.mark.redis
def test_set_sorted_set_and_list_members_are_rows(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.sadd(f"{prefix}newsletter:subscribers", JANE, BOB, GLOBBY)
    raw.zadd(f"{prefix}leaderboard:weekly", {JANE: 10, BOB: 5})
    raw.zadd(f"{prefix}leaderboard:all-time", {JANE: 0})
    raw.zadd(f"{prefix}leaderboard:monthly", {BOB: 1})
    raw.rpush(f"{prefix}viewed:{JANE}", "p-1", "p-2", "p-1")
    raw.rpush(f"{prefix}viewed:{BOB}", "p-2")

    assert rows(cache.find(SPECS["subscribers"], {"email": [JANE, GLOBBY, "nobody@x"]})) == [
        {"email": GLOBBY},
        {"email": JANE},
    ]
    assert rows(cache.find(SPECS["leaderboards"], {"email": [JANE]})) == [
        {"board": "all-time", "email": JANE},
        {"board": "weekly", "email": JANE},
    ]
    assert rows(cache.find(SPECS["leaderboards"], {"board": ["weekly"]})) == [
        {"board": "weekly", "email": BOB},
        {"board": "weekly", "email": JANE},
    ]
    assert list(cache.find(SPECS["viewed"], {"email": [JANE]})) == [
        {"email": JANE, "product": "p-1"},
        {"email": JANE, "product": "p-2"},
        {"email": JANE, "product": "p-1"},
    ]
    assert rows(cache.find(SPECS["viewed"], {"product": ["p-2"]})) == [
        {"email": BOB, "product": "p-2"},
        {"email": JANE, "product": "p-2"},
    ]


@pytest.mark.redis
def test_fields_inside_values_are_found_by_reading_the_collection(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.hset(f"{prefix}crm:contact:7", mapping={"email": JANE, "name": "Jane Example"})
    raw.hset(f"{prefix}crm:contact:8", mapping={"email": BOB, "name": "Bob"})
    raw.hset(f"{prefix}crm:contact:9", mapping={"email": JANE, "name": "Jane at home"})

    by_email = rows(cache.find(SPECS["contacts"], {"email": [JANE]}))
    either = rows(cache.find(SPECS["contacts"], {"email": [BOB], "contact_id": [9, 8]}))

    assert by_email == [
        {"contact_id": 7, "email": JANE, "name": "Jane Example"},
        {"contact_id": 9, "email": JANE, "name": "Jane at home"},
    ]
    assert either == [
        {"contact_id": 8, "email": BOB, "name": "Bob"},
        {"contact_id": 9, "email": JANE, "name": "Jane at home"},
    ]


@pytest.mark.redis
def test_nested_json_fields_are_found_by_dotted_path(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.set(f"{prefix}cart:1:{JANE}", json.dumps({"address": {"city": "Leeds"}}))
    raw.set(f"{prefix}cart:2:{BOB}", json.dumps({"address": {"city": "York"}}))
    raw.set(f"{prefix}cart:3:{BOB}", json.dumps({"address": "Leeds, as text"}))

    found = list(cache.find(SPECS["carts"], {"address.city": ["Leeds"]}))

    assert [(r["customer_id"], r["email"]) for r in found] == [(1, JANE)]


@pytest.mark.redis
def test_fields_are_ored_and_each_row_comes_once(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.set(f"{prefix}cart:42:{JANE}", json.dumps({"items": []}))
    raw.set(f"{prefix}cart:43:{JANE}", json.dumps({"items": []}))
    raw.set(f"{prefix}cart:42:{BOB}", json.dumps({"items": []}))

    found = rows(cache.find(SPECS["carts"], {"email": [JANE], "customer_id": [42, "42"]}))

    assert [(r["customer_id"], r["email"]) for r in found] == [(42, BOB), (42, JANE), (43, JANE)]


@pytest.mark.redis
def test_a_member_in_a_collection_read_whole_comes_once(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.zadd(f"{prefix}leaderboard:weekly", {JANE: 1, BOB: 2})
    raw.zadd(f"{prefix}leaderboard:monthly", {JANE: 3})
    raw.zadd(f"{prefix}leaderboard:yearly", {BOB: 4})

    found = rows(cache.find(SPECS["leaderboards"], {"board": ["weekly"], "email": [JANE]}))

    assert found == [
        {"board": "monthly", "email": JANE},
        {"board": "weekly", "email": BOB},
        {"board": "weekly", "email": JANE},
    ]


@pytest.mark.redis
def test_values_of_the_wrong_type_match_nothing(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.hset(f"{prefix}session:True", mapping={"token": "t"})
    raw.hset(f"{prefix}session:None", mapping={"token": "t"})
    raw.set(f"{prefix}cart:1:{JANE}", json.dumps({"items": [], "restricted": 1}))
    raw.hset(f"{prefix}crm:contact:7", mapping={"email": JANE})

    assert list(cache.find(SPECS["sessions"], {"email": [True, None, 1.5, {"a": 1}]})) == []
    assert list(cache.find(SPECS["carts"], {"restricted": [True]})) == []
    assert list(cache.find(SPECS["carts"], {"customer_id": [1.0]})) == []
    assert list(cache.find(SPECS["contacts"], {"contact_id": [7.0, "07"]})) == []
    assert list(cache.find(SPECS["sessions"], {})) == []
    assert list(cache.find(SPECS["subscribers"], {"email": []})) == []


@pytest.mark.redis
def test_find_streams_big_collections(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    with raw.pipeline(transaction=False) as pipe:
        for n in range(3000):
            pipe.set(f"{prefix}cart:{n}:{JANE}", json.dumps({"items": [n]}))
        pipe.rpush(f"{prefix}viewed:{JANE}", *(f"p-{n}" for n in range(2500)))
        pipe.execute()

    carts = cache.find(SPECS["carts"], {"email": [JANE]})
    first = next(carts)  # before the SCAN has gone through the keyspace
    rest = [row["customer_id"] for row in carts]
    viewed = [row["product"] for row in cache.find(SPECS["viewed"], {"email": [JANE]})]

    assert first == {
        "customer_id": first["customer_id"],
        "email": JANE,
        "items": [first["customer_id"]],
        "address": None,
        "restricted": None,
    }
    assert sorted([first["customer_id"], *rest]) == list(range(3000))
    assert viewed == [f"p-{n}" for n in range(2500)]


@pytest.mark.redis
def test_a_key_holding_another_type_is_a_configuration_error(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    raw.set(f"{redis_prefix[1]}session:{JANE}", "a string, not a hash")
    raw.set(f"{redis_prefix[1]}cart:1:{JANE}", "not JSON")

    with pytest.raises(ConnectorError) as wrong_type:
        list(cache.find(SPECS["sessions"], {"email": [JANE]}))
    with pytest.raises(ConnectorError) as not_json:
        list(cache.find(SPECS["carts"], {"email": [JANE]}))

    assert wrong_type.value.retryable is False
    assert wrong_type.value.message == (
        f"web_cache: web_cache.sessions: a key matching '{redis_prefix[1]}session:{{email}}' "
        "holds another type than a hash"
    )
    assert not_json.value.retryable is False
    assert not_json.value.message == (
        f"web_cache: web_cache.carts: a key matching '{redis_prefix[1]}cart:{{customer_id}}:"
        "{email}' holds a value that is not a JSON object"
    )


def test_patterns_take_literal_braces_and_read_keys_back() -> None:
    pattern = KeyPattern.parse("{{tenant}}:cart:{customer_id}:{email}")

    assert pattern.literals == ("{tenant}:cart:", ":", "")
    assert pattern.render({"customer_id": "1", "email": JANE}) == f"{{tenant}}:cart:1:{JANE}"
    assert pattern.glob({"email": "a*b"}) == "{tenant}:cart:*:a\\*b"
    assert pattern.match({}).parse("{tenant}:cart:1:x:y@example.com") == {
        "customer_id": "1",
        "email": "x:y@example.com",
    }
    assert pattern.match({"customer_id": "1:x"}).parse("{tenant}:cart:1:x:y@example.com") == {
        "customer_id": "1:x",
        "email": "y@example.com",
    }
    assert pattern.match({"email": JANE}).parse(f"{{tenant}}:cart:1:{BOB}") is None


@pytest.mark.redis
def test_keys_that_are_not_utf8_round_trip_from_find_to_apply(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    key = redis_prefix[1].encode() + b"token:j\xe9ane@example.com"  # Latin-1, not UTF-8
    raw.set(key, "reset-1")

    found = list(cache.find(SPECS["tokens"], {"token": ["reset-1"]}))
    applied = cache.apply([delete("tokens", {"email": found[0]["email"]})])

    assert found == [{"email": "j\udce9ane@example.com", "token": "reset-1"}]
    assert applied.changed == {"web_cache.tokens": 1}
    assert raw.exists(key) == 0


# Changing rows


@pytest.mark.redis
def test_hash_updates_set_only_the_named_fields_keep_the_ttl_and_count_once(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    key = f"{redis_prefix[1]}session:{JANE}"
    raw.hset(key, mapping={"token": "t-1", "ip": "192.0.2.1", "visits": "7", "restricted": "0"})
    raw.expire(key, 3600)
    batch = [
        update("sessions", {"email": JANE}, token=None, ip="0.0.0.0", visits=7, restricted=True)
    ]

    first = cache.apply(batch)
    second = cache.apply(batch)

    assert first.changed == {"web_cache.sessions": 1}
    assert second.changed == {"web_cache.sessions": 0}
    assert raw.hgetall(key) == {"ip": "0.0.0.0", "visits": "7", "restricted": "1"}
    assert 3500 < raw.ttl(key) <= 3600
    assert cache.restriction_field(SPECS["sessions"]) == "restricted"
    assert list(cache.find(SPECS["sessions"], {"email": [JANE]})) == [
        {"email": JANE, "token": None, "ip": "0.0.0.0", "visits": 7, "restricted": True}
    ]


@pytest.mark.redis
def test_json_updates_set_nested_fields_and_keep_the_rest(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    key = f"{redis_prefix[1]}cart:42:{JANE}"
    cart = {
        "items": [{"sku": "A1"}],
        "address": {"city": "Leeds", "postcode": "LS1 4AP"},
        "coupon": "kept as it is",
    }
    raw.set(key, json.dumps(cart))
    raw.expire(key, 600)
    batch = [
        update(
            "carts",
            {"customer_id": 42, "email": JANE},
            **{"address.postcode": None, "restricted": True},
        )
    ]

    assert cache.apply(batch).changed == {"web_cache.carts": 1}
    assert cache.apply(batch).changed == {"web_cache.carts": 0}
    assert json.loads(raw.get(key) or "") == {
        "items": [{"sku": "A1"}],
        "address": {"city": "Leeds", "postcode": None},
        "coupon": "kept as it is",
        "restricted": True,
    }
    assert 500 < raw.ttl(key) <= 600


@pytest.mark.redis
def test_plain_string_updates_keep_the_ttl_and_a_null_removes_the_key(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    jane, bob = f"{redis_prefix[1]}token:{JANE}", f"{redis_prefix[1]}token:{BOB}"
    raw.set(jane, "reset-8f3a", ex=900)
    raw.set(bob, "reset-77")
    batch = [
        update("tokens", {"email": JANE}, token="masked"),
        update("tokens", {"email": BOB}, token=None),
    ]

    assert cache.apply(batch).changed == {"web_cache.tokens": 2}
    assert cache.apply(batch).changed == {"web_cache.tokens": 0}
    assert raw.get(jane) == "masked"
    assert 800 < raw.ttl(jane) <= 900
    assert raw.exists(bob) == 0


@pytest.mark.redis
def test_deletes_remove_keys_and_members_and_report_zero_when_gone(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.hset(f"{prefix}session:{JANE}", mapping={"token": "t"})
    raw.hset(f"{prefix}session:{BOB}", mapping={"token": "t"})
    raw.sadd(f"{prefix}newsletter:subscribers", JANE, BOB)
    raw.zadd(f"{prefix}leaderboard:weekly", {JANE: 3, BOB: 4})
    raw.rpush(f"{prefix}viewed:{JANE}", "p-1", "p-2", "p-1")
    batch = [
        delete("sessions", {"email": JANE}),
        delete("subscribers", {"email": JANE}),
        delete("leaderboards", {"board": "weekly", "email": JANE}),
        delete("viewed", {"email": JANE, "product": "p-1"}),
        delete("tokens", {"email": JANE}),
    ]

    first = cache.apply(batch)
    second = cache.apply(batch)

    assert first.changed == {
        "web_cache.sessions": 1,
        "web_cache.subscribers": 1,
        "web_cache.leaderboards": 1,
        "web_cache.viewed": 2,
        "web_cache.tokens": 0,
    }
    assert second.total == 0
    assert sorted(raw.scan_iter(f"{prefix}session:*")) == [f"{prefix}session:{BOB}"]
    assert raw.smembers(f"{prefix}newsletter:subscribers") == {BOB}
    assert raw.zrange(f"{prefix}leaderboard:weekly", 0, -1, withscores=True) == [(BOB, 4.0)]
    assert raw.lrange(f"{prefix}viewed:{JANE}", 0, -1) == ["p-2"]


@pytest.mark.redis
def test_rectifying_members_keeps_scores_and_list_order(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    new = "jane@new.example"
    raw.sadd(f"{prefix}newsletter:subscribers", JANE, BOB)
    raw.zadd(f"{prefix}leaderboard:weekly", {JANE: 12.5, BOB: 4})
    raw.rpush(f"{prefix}viewed:{JANE}", "p-1", "p-2", "p-1", "p-3")
    batch = [
        update("subscribers", {"email": JANE}, email=new),
        update("leaderboards", {"board": "weekly", "email": JANE}, email=new),
        update("viewed", {"email": JANE, "product": "p-1"}, product="p-9"),
        update("leaderboards", {"board": "weekly", "email": BOB}, board="monthly"),
    ]

    first = cache.apply(batch)
    second = cache.apply(batch)

    assert first.changed == {
        "web_cache.subscribers": 1,
        "web_cache.leaderboards": 2,
        "web_cache.viewed": 2,
    }
    assert second.total == 0
    assert raw.smembers(f"{prefix}newsletter:subscribers") == {BOB, new}
    assert raw.zrange(f"{prefix}leaderboard:weekly", 0, -1, withscores=True) == [(new, 12.5)]
    assert raw.zrange(f"{prefix}leaderboard:monthly", 0, -1, withscores=True) == [(BOB, 4.0)]
    assert raw.lrange(f"{prefix}viewed:{JANE}", 0, -1) == ["p-9", "p-2", "p-9", "p-3"]


@pytest.mark.redis
def test_changing_a_key_field_moves_the_row_with_its_ttl(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    new = "jane@new.example"
    raw.hset(f"{prefix}session:{JANE}", mapping={"token": "t-1", "email": JANE})
    raw.expire(f"{prefix}session:{JANE}", 300)
    raw.set(f"{prefix}cart:42:{JANE}", json.dumps({"items": []}))
    batch = [
        update("sessions", {"email": JANE}, email=new, token="t-2"),
        update("carts", {"customer_id": 42, "email": JANE}, email=new),
    ]

    assert cache.apply(batch).changed == {"web_cache.sessions": 1, "web_cache.carts": 1}
    assert cache.apply(batch).changed == {"web_cache.sessions": 0, "web_cache.carts": 0}
    assert sorted(raw.scan_iter(f"{prefix}*")) == [
        f"{prefix}cart:42:{new}",
        f"{prefix}session:{new}",
    ]
    # The email the hash held beside its key moves with it; the JSON held none.
    assert raw.hgetall(f"{prefix}session:{new}") == {"token": "t-2", "email": new}
    assert 200 < raw.ttl(f"{prefix}session:{new}") <= 300
    assert raw.get(f"{prefix}cart:42:{new}") == '{"items": []}'


@pytest.mark.redis
def test_a_batch_is_all_or_nothing(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    prefix = redis_prefix[1]
    raw.hset(f"{prefix}session:{JANE}", mapping={"token": "t-1"})
    raw.hset(f"{prefix}session:{BOB}", mapping={"token": "t-2"})
    raw.sadd(f"{prefix}newsletter:subscribers", JANE)
    raw.set(f"{prefix}token:{JANE}", "reset")
    before = {key: raw.dump(key) for key in raw.scan_iter(f"{prefix}*")}
    taken = [
        delete("subscribers", {"email": JANE}),
        update("tokens", {"email": JANE}, token=None),
        # Bob's session already holds the key Jane's would move to.
        update("sessions", {"email": JANE}, email=BOB),
    ]
    wrong_type = [
        delete("subscribers", {"email": JANE}),
        update("sessions", {"email": "x"}),
        delete("contacts", {"contact_id": 1}),
    ]
    raw.set(f"{prefix}crm:contact:1", "a string, not a hash")

    with pytest.raises(ConnectorError) as moved_onto:
        cache.apply(taken)
    with pytest.raises(ConnectorError) as mistyped:
        cache.apply(wrong_type)

    assert moved_onto.value.message == (
        "web_cache: web_cache.sessions: another row already holds the key this change would "
        "move its row to"
    )
    assert moved_onto.value.retryable is False
    assert mistyped.value.retryable is False
    assert "another type" in mistyped.value.message
    raw.delete(f"{prefix}crm:contact:1")
    assert {key: raw.dump(key) for key in raw.scan_iter(f"{prefix}*")} == before


@pytest.mark.redis
def test_apply_reads_and_writes_in_a_few_round_trips(
    cache: RedisConnector,
    raw: redis.Redis,
    redis_prefix: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = redis_prefix[1]
    emails = [f"user{n}@example.com" for n in range(30)]
    for email in emails:
        raw.hset(f"{prefix}session:{email}", mapping={"token": "t"})
    raw.sadd(f"{prefix}newsletter:subscribers", *emails)
    batch = [update("sessions", {"email": e}, token=None) for e in emails]
    batch += [delete("subscribers", {"email": e}) for e in emails]
    cache.apply([delete("tokens", {"email": "nobody"})])  # opens the pooled connections
    trips = RoundTrips(monkeypatch)

    applied = cache.apply(batch)

    # WATCH on one connection, the reads pipelined on another, then MULTI..EXEC.
    assert trips.count == 3
    assert applied.changed == {"web_cache.sessions": 30, "web_cache.subscribers": 30}
    assert list(raw.scan_iter(f"{prefix}*")) == []


@pytest.mark.redis
def test_a_key_changed_by_someone_else_mid_batch_is_read_again(
    cache: RedisConnector,
    raw: redis.Redis,
    redis_prefix: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = f"{redis_prefix[1]}session:{JANE}"
    raw.hset(key, mapping={"token": "t-1", "ip": "192.0.2.1"})
    reads: list[dict[str, Any]] = []
    original = redis_writes.read_state

    def interleaved(*args: Any) -> Any:
        state = original(*args)
        reads.append(dict(state[0]))
        if len(reads) == 1:
            raw.hset(key, "ip", "0.0.0.0")  # another client, between WATCH and EXEC
        return state

    monkeypatch.setattr(redis_keys, "read_state", interleaved)

    applied = cache.apply([update("sessions", {"email": JANE}, ip="0.0.0.0", token="x")])

    assert [state[key]["ip"] for state in reads] == ["192.0.2.1", "0.0.0.0"]
    assert applied.changed == {"web_cache.sessions": 1}
    assert raw.hgetall(key) == {"token": "x", "ip": "0.0.0.0"}


@pytest.mark.redis
def test_keys_that_keep_changing_give_a_retryable_error(
    cache: RedisConnector,
    raw: redis.Redis,
    redis_prefix: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = f"{redis_prefix[1]}session:{JANE}"
    raw.hset(key, mapping={"token": "t-1"})
    original = redis_writes.read_state

    def contended(*args: Any) -> Any:
        raw.hincrby(key, "visits", 1)
        return original(*args)

    monkeypatch.setattr(redis_keys, "read_state", contended)

    with pytest.raises(ConnectorError) as raised:
        cache.apply([update("sessions", {"email": JANE}, token="x")])

    assert raised.value.retryable is True
    assert raised.value.message == "web_cache: the keys of a batch kept changing over 5 attempts"
    assert raw.hgetall(key) == {"token": "t-1", "visits": "5"}


@pytest.mark.redis
def test_concurrent_batches_on_one_key_all_take_effect(
    cache: RedisConnector, raw: redis.Redis, redis_prefix: tuple[str, str]
) -> None:
    board = f"{redis_prefix[1]}leaderboard:weekly"
    raw.zadd(board, {f"user{n}@example.com": n for n in range(24)})
    failures: list[BaseException] = []

    def rectify(first: int) -> None:
        for n in range(first, 24, 6):
            change = update(
                "leaderboards",
                {"board": "weekly", "email": f"user{n}@example.com"},
                email=f"renamed{n}@example.com",
            )
            for _ in range(100):  # as the engine does: try again while the error is retryable
                try:
                    cache.apply([change])
                    break
                except ConnectorError as exc:
                    if not exc.retryable:
                        failures.append(exc)
                        return
            else:
                failures.append(AssertionError(f"user{n} never got through"))

    threads = [threading.Thread(target=rectify, args=(first,)) for first in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert raw.zrange(board, 0, -1, withscores=True) == [
        (f"renamed{n}@example.com", float(n)) for n in range(24)
    ]
    found = rows(cache.find(SPECS["leaderboards"], {"board": ["weekly"]}))
    assert len(found) == 24


# Configuration


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


# Reaching Redis


def test_a_closed_port_is_a_retryable_error() -> None:
    cache = connector(f"redis://127.0.0.1:{closed_port()}/0", "p:", socket_timeout_seconds=2)

    with pytest.raises(ConnectorError) as checked:
        cache.check()
    with pytest.raises(ConnectorError) as found:
        list(cache.find(SPECS["sessions"], {"email": [JANE]}))
    with pytest.raises(ConnectorError) as applied:
        cache.apply([delete("sessions", {"email": JANE})])

    for raised in (checked, found, applied):
        assert raised.value.retryable is True
        assert raised.value.message.startswith("web_cache: cannot reach Redis: Error ")
        assert "Connection refused" in raised.value.message
    cache.close()


@pytest.mark.redis
def test_refused_credentials_and_a_missing_database_are_not_retried(
    redis_prefix: tuple[str, str],
) -> None:
    host = redis_prefix[0].split("//", 1)[1].split("/", 1)[0]
    wrong_user = connector(f"redis://nobody:s3cret-pw@{host}/0", "p:")
    no_database = connector(f"redis://{host}/9999", "p:")

    with pytest.raises(ConnectorError) as refused:
        wrong_user.check()
    with pytest.raises(ConnectorError) as missing:
        no_database.check()

    assert refused.value.retryable is False
    assert refused.value.message == (
        "web_cache: Redis refused us: invalid username-password pair or user is disabled."
    )
    assert missing.value.retryable is False
    assert missing.value.message == "web_cache: Redis refused a command: DB index is out of range"
    wrong_user.close()
    no_database.close()


@pytest.mark.redis
def test_close_releases_the_connections(redis_prefix: tuple[str, str], raw: redis.Redis) -> None:
    url, prefix = redis_prefix
    name = f"cache_{prefix.split(':')[1]}"
    cache = RedisConnector(name, config(url, prefix), list(SPECS.values()), environ={})
    cache.check()
    list(cache.find(SPECS["sessions"], {"email": [JANE]}))

    def named() -> int:
        return sum(1 for c in raw.client_list() if c["name"] == f"opendpo:{name}")

    assert named() == 1
    cache.close()
    assert named() == 0
