"""From a connection block (`type: sql`, …) to its validated config and an open connector.

Connector modules are imported only when a system of their kind is used, so that running
the policy checks never needs a Redis or HTTP client loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from opendpo.connectors.base import CollectionSpec, Connector
from opendpo.errors import InvalidValue

# type → (module, config class, connector class or None for steps a person carries out)
KINDS: dict[str, tuple[str, str, str | None]] = {
    "sql": ("opendpo.connectors.sql", "SqlConnection", "SqlConnector"),
    "redis": ("opendpo.connectors.redis_keys", "RedisConnection", "RedisConnector"),
    "http": ("opendpo.connectors.http_api", "HttpConnection", "HttpConnector"),
    "email": ("opendpo.connectors.processor_email", "ProcessorEmailConnection", None),
    "manual": ("opendpo.connectors.manual", "ManualConnection", None),
}


def _kind(data: Mapping[str, Any], field: str) -> tuple[str, str, str | None]:
    kind = data.get("type")
    if kind not in KINDS:
        choices = ", ".join(KINDS)
        raise InvalidValue(f"{field}.type", f"'{kind}' is not a connection type ({choices})")
    return KINDS[str(kind)]


def parse_connection(data: Mapping[str, Any], *, field: str = "connection") -> BaseModel:
    """The connection block validated by its type's model; InvalidValue names the bad field."""
    if not isinstance(data, Mapping):
        raise InvalidValue(field, "must be a mapping with a 'type'")
    module_name, config_name, _ = _kind(data, field)
    model: type[BaseModel] = getattr(importlib.import_module(module_name), config_name)
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidValue(f"{field}.{where}" if where else field, message) from None


def is_automatic(config: BaseModel) -> bool:
    """Whether OpenDPO reaches the system itself (SQL, Redis, HTTP) or a person must act."""
    return KINDS[str(getattr(config, "type"))][2] is not None  # noqa: B009


def open_connector(
    name: str,
    config: BaseModel,
    collections: Sequence[CollectionSpec],
    *,
    environ: Mapping[str, str],
) -> Connector:
    module_name, _, connector_name = KINDS[str(getattr(config, "type"))]  # noqa: B009
    if connector_name is None:
        raise ValueError(f"system '{name}' is worked by a person, not a connector")
    connector_class = getattr(importlib.import_module(module_name), connector_name)
    connector: Connector = connector_class(name, config, collections, environ=environ)
    return connector
