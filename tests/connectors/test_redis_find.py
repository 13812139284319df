"""The Redis connector finding rows on a real Redis: hashes, JSON and plain strings, sets,
sorted sets and lists, by exact keys and by SCAN; keys holding another type; key patterns."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from redis_connecting import BOB, JANE, SPECS, RoundTrips, cache, delete, raw, rows

from opendpo.connectors.base import ConnectorError
from opendpo.connectors.redis_keys import RedisConnector
from opendpo.connectors.redis_layout import KeyPattern

__all__ = ["cache", "raw"]  # fixtures, used by name

# Every glob character SCAN MATCH knows, and the key's separator, inside identities.
GLOBBY = "j*n?[ae]\\:x@example.com"


def by_customer_id(row: dict[str, Any]) -> str:
    return str(row["customer_id"])


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
