"""Which systems a request runs across, how each is reached, and the open connectors.

A system's connection comes from `opendpo systems add` (kept encrypted in the store) or,
failing that, from the policy's `systems[].connection` block; a system with neither is
worked by a person, so that no system holding personal data is ever silently skipped.
Connectors are opened once per process and reused across requests and steps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fideslang.models import Dataset
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.connectors.base import CollectionSpec, Connector, dataset_specs
from opendpo.connectors.manual import ManualConnection
from opendpo.connectors.registry import is_automatic, open_connector, parse_connection
from opendpo.errors import InvalidValue, NotFound
from opendpo.execution import chain
from opendpo.execution.records import ConnectedSystem
from opendpo.policy.model.document import PolicyDocument


@dataclass(frozen=True)
class SystemBinding:
    key: str
    name: str
    config: BaseModel
    datasets: tuple[Dataset, ...]
    source: str  # "store", "policy" or "none" (no connection: a person does the work)

    @property
    def automatic(self) -> bool:
        return is_automatic(self.config)

    @cached_property
    def collections(self) -> list[CollectionSpec]:
        return [spec for dataset in self.datasets for spec in dataset_specs(dataset)]

    @cached_property
    def digest(self) -> str:
        """Changes whenever the connection or datasets change: a pooled connector is renewed."""
        payload = {
            "config": self.config.model_dump(mode="json", exclude_none=True)
            | _secrets(self.config),
            "datasets": [d.model_dump(mode="json", exclude_none=True) for d in self.datasets],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _secrets(config: BaseModel) -> dict[str, Any]:
    # SecretStr dumps as "**********": fold the real values into the digest so that a new
    # password renews the connector.
    values = {}
    for name in type(config).model_fields:
        value = getattr(config, name)
        if hasattr(value, "get_secret_value"):
            values[name] = hashlib.sha256(value.get_secret_value().encode()).hexdigest()
    return values


def bindings(*, session: Session, policy: PolicyDocument) -> list[SystemBinding]:
    """Every system: the policy's, then those only connected with `systems add`."""
    shared = chain.cache(session)
    if shared is not None:
        held = shared.get("bindings")
        if held is not None and held[0] is policy:
            return list(held[1])
    kept = session.info.get(KEPT_BINDINGS)
    if isinstance(kept, KeptBindings):
        found = kept.bindings(session=session, policy=policy)
    else:
        found = _bindings(session=session, policy=policy)
    if shared is not None:
        shared["bindings"] = (policy, tuple(found))
    return found


# Where a process's sessions find its KeptBindings (session.info, set by its session factory).
KEPT_BINDINGS = "opendpo.bindings"
Stamp = tuple[tuple[str, dt.datetime], ...]


class KeptBindings:
    """The bindings a process built last, and what from: its steps then read only the
    connected systems' keys and times, not their configurations, decrypted and their
    datasets validated again for every step."""

    def __init__(self) -> None:
        self._held: tuple[PolicyDocument, Stamp, tuple[SystemBinding, ...]] | None = None

    def bindings(self, *, session: Session, policy: PolicyDocument) -> list[SystemBinding]:
        stamp: Stamp = tuple(
            (key, at)
            for key, at in session.execute(
                select(ConnectedSystem.key, ConnectedSystem.updated_at).order_by(
                    ConnectedSystem.key
                )
            )
        )
        held = self._held  # one read: another thread may replace it meanwhile
        if held is not None and held[0] is policy and held[1] == stamp:
            return list(held[2])
        # Read after the stamp: at worst newer than it, and then built again next time.
        found = _bindings(session=session, policy=policy)
        self._held = (policy, stamp, tuple(found))
        return found


def _bindings(*, session: Session, policy: PolicyDocument) -> list[SystemBinding]:
    stored = {s.key: s for s in session.scalars(select(ConnectedSystem))}
    by_key = {d.fides_key: d for d in policy.dataset}
    found: list[SystemBinding] = []
    for system in policy.systems:
        datasets = [by_key[k] for k in system.datasets if k in by_key]
        row = stored.pop(system.key, None)
        if row is not None:
            found.append(_from_store(row, datasets, name=system.name))
        elif system.connection is not None:
            config = parse_connection(system.connection, field=f"systems.{system.key}.connection")
            found.append(SystemBinding(system.key, system.name, config, tuple(datasets), "policy"))
        else:
            manual = ManualConnection(
                type="manual",
                instructions=f"{system.name} has no connection: find the person's data in it "
                "by hand, attach what you find, and confirm what you changed.",
            )
            found.append(SystemBinding(system.key, system.name, manual, tuple(datasets), "none"))
    for row in stored.values():
        found.append(_from_store(row, [], name=row.key))
    return found


def _from_store(row: ConnectedSystem, datasets: list[Dataset], *, name: str) -> SystemBinding:
    config = parse_connection(row.config, field=f"systems.{row.key}.connection")
    own = [Dataset.model_validate(d) for d in row.datasets]
    # A dataset given to `systems add` replaces the policy's dataset of the same key.
    keys = {d.fides_key for d in own}
    merged = [*own, *(d for d in datasets if d.fides_key not in keys)]
    return SystemBinding(row.key, name, config, tuple(merged), "store")


def binding(*, session: Session, policy: PolicyDocument, key: str) -> SystemBinding:
    for found in bindings(session=session, policy=policy):
        if found.key == key:
            return found
    raise NotFound("system", key)


def save_connection(
    *,
    session: Session,
    key: str,
    config: Mapping[str, Any],
    datasets: Sequence[Mapping[str, Any]],
    added_by: str,
    now: dt.datetime | None = None,
) -> ConnectedSystem:
    """Add or replace a connection (validated first: nothing half-written)."""
    parse_connection(config)
    for i, data in enumerate(datasets):
        try:
            Dataset.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidValue(f"dataset[{i}].{where}", first["msg"]) from None
    moment = now or dt.datetime.now(dt.UTC)
    row = session.get(ConnectedSystem, key)
    if row is None:
        row = ConnectedSystem(key=key, added_at=moment, added_by=added_by)
        session.add(row)
    row.type = str(config["type"])
    row.config = dict(config)
    row.datasets = [dict(d) for d in datasets]
    row.updated_at = moment
    return row


class ConnectorPool:
    """Open connectors by system, reused until the system's connection or datasets change."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._open: dict[str, tuple[str, Connector]] = {}
        self._lock = threading.Lock()

    def get(self, system: SystemBinding) -> Connector:
        with self._lock:
            held = self._open.get(system.key)
            if held is not None and held[0] == system.digest:
                return held[1]
            connector = open_connector(
                system.key, system.config, system.collections, environ=self._environ
            )
            self._open[system.key] = (system.digest, connector)
        if held is not None:
            held[1].close()
        return connector

    def close(self) -> None:
        with self._lock:
            held = list(self._open.values())
            self._open.clear()
        for _, connector in held:
            connector.close()
