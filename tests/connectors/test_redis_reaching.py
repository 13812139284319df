"""What the Redis connector says when Redis is away or refuses us, and closing its
connections."""

from __future__ import annotations

import socket

import pytest
import redis
from redis_cache import config, connector
from redis_connecting import JANE, SPECS, delete, raw

from opendpo.connectors.base import ConnectorError
from opendpo.connectors.redis_keys import RedisConnector

__all__ = ["raw"]  # fixtures, used by name


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


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
