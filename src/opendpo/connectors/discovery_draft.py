"""The shape of a drafted dataset: tables read, and fields with suggestions and their reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DiscoveredReference:
    collection: str
    field: str
    direction: str  # "from": reads flow from the referenced table to this one; "to": the reverse
    reason: str


@dataclass(frozen=True)
class DiscoveredField:
    name: str
    sql_type: str
    data_categories: tuple[str, ...] = ()
    identity: str | None = None
    primary_key: bool = False
    references: tuple[DiscoveredReference, ...] = ()
    fields: tuple[DiscoveredField, ...] = ()  # keys found inside a JSON column
    reasons: tuple[str, ...] = ()  # why the categories and identity were suggested
    notes: tuple[str, ...] = ()  # what a reviewer must look at

    @property
    def personal(self) -> bool:
        return any(c.startswith("user.") for c in self.data_categories) or any(
            f.personal for f in self.fields
        )


@dataclass(frozen=True)
class DiscoveredCollection:
    name: str
    fields: tuple[DiscoveredField, ...]
    notes: tuple[str, ...] = ()
    # Tables of the same dataset whose rows reference this one's but are no reference (both
    # hold people): erased before this one (fideslang collection meta `erase_after`).
    erase_after: tuple[str, ...] = ()

    @property
    def identities(self) -> tuple[tuple[str, str], ...]:
        return tuple((f.name, f.identity) for f in self.fields if f.identity)

    @property
    def personal(self) -> bool:
        return any(f.personal for f in self.fields)


@dataclass(frozen=True)
class DiscoveredDataset:
    key: str
    server: str  # "PostgreSQL 15.19"
    database: str | None
    schema_name: str | None
    sample_rows: int
    collections: tuple[DiscoveredCollection, ...] = field(default=())

    @property
    def identities(self) -> list[tuple[str, str, str]]:
        """(collection, field, identity kind) for every suggested identity."""
        return [(c.name, f, kind) for c in self.collections for f, kind in c.identities]


@dataclass(frozen=True)
class TableFacts:
    """What was read of one table: its columns, keys, and sampled values (kept in memory only)."""

    name: str
    columns: list[Mapping[str, Any]]
    primary_key: list[str]
    foreign_keys: list[Mapping[str, Any]]
    samples: dict[str, list[Any]]
