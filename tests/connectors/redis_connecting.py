"""What the Redis connector tests share: clients to a real Redis under the test's key prefix
(`raw`, and `cache`, the connector), two people, the cache's collection specs, rows in a
stable order, changes to them, and a count of the round trips made to Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis_cache import connector, specs

from opendpo.connectors.base import Change, ChangeAction
from opendpo.connectors.redis_keys import RedisConnector

JANE = "jane@example.com"
BOB = "bob@example.com"
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


def update(collection: str, key: dict[str, Any], **values: Any) -> Change:
    return Change(SPECS[collection], key, ChangeAction.UPDATE, values)


def delete(collection: str, key: dict[str, Any]) -> Change:
    return Change(SPECS[collection], key, ChangeAction.DELETE)


class RoundTrips:
    """Counts the requests written to Redis sockets (a pipeline is one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counted(connection: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(connection, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
