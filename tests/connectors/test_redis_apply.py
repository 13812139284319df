"""The Redis connector changing rows on a real Redis: idempotent, atomic, TTL-keeping updates
and deletes, rows moved with their keys, and batches racing other clients."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import redis
from redis_connecting import BOB, JANE, SPECS, RoundTrips, cache, delete, raw, rows, update

from opendpo.connectors import redis_keys, redis_writes
from opendpo.connectors.base import ConnectorError
from opendpo.connectors.redis_keys import RedisConnector

__all__ = ["cache", "raw"]  # fixtures, used by name


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
