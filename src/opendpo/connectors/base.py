"""The one small interface every connected system speaks: find rows, change them, delete them.

A connector knows how to reach one system (a SQL database, a Redis server, an HTTP API) and
nothing about requests, policies or people. The execution engine decides which collections to
visit, with which values, and what to change; the connector only carries that out.

Rows are plain dicts keyed by the dataset's field names, nested fields as nested dicts, exactly
as the system holds them. A change names its row by the collection's primary key (or, where a
collection declares none, by every field the engine read), so that running the same change
twice leaves the system as running it once: steps are retried after crashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from fideslang.models import Dataset, DatasetCollection, DatasetField

from opendpo.errors import DomainError

Row = dict[str, Any]


class ConnectorError(DomainError):
    """The system could not be reached, refused us, or answered with something unexpected.

    `retryable` says whether trying again later may help (a timeout, a 503, a lost connection)
    or not (bad credentials, a missing table): the engine backs off on the first and stops the
    step for a person to look at on the second. `retry_after` is how long the system asked us
    to wait, in seconds (an HTTP 429 or 503's Retry-After): the engine waits at least that.
    """

    code = "connector_error"

    def __init__(
        self,
        system: str,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.retryable = retryable
        self.retry_after = retry_after


class NotSupported(ConnectorError):
    """The system cannot do this at all (e.g. hold a restriction flag); never retried."""

    code = "connector_not_supported"

    def __init__(self, system: str, message: str) -> None:
        super().__init__(system, message, retryable=False)


@dataclass(frozen=True)
class FieldSpec:
    """One field of a collection, with what the dataset says about it.

    `path` is dotted for nested fields (`billing_address.city`); `identity` is the identity
    kind the field holds (`email`), as fides_meta.identity names it.
    """

    path: str
    data_categories: tuple[str, ...] = ()
    identity: str | None = None
    primary_key: bool = False
    data_type: str | None = None
    # Never written to (fides_meta.read_only): erasure and rectification leave it alone.
    read_only: bool = False
    # fides_meta.length: no masked value written here may be longer.
    length: int | None = None
    # fides_meta.masking_strategy_override as written ({strategy, configuration}): the
    # dataset's own strategy for this field, read by the erasure planning.
    masking_override: Mapping[str, Any] | None = field(default=None, compare=False)
    # Where a value here is a reference to another collection's field, (dataset, collection,
    # field) and the fideslang direction ("to", "from" or None for both).
    references: tuple[tuple[str, str, str, str | None], ...] = ()

    @property
    def personal(self) -> bool:
        return any(c.startswith("user.") for c in self.data_categories)


@dataclass(frozen=True)
class CollectionSpec:
    """A collection (table, key family, API resource) of a dataset, field by field."""

    dataset: str
    name: str
    fields: tuple[FieldSpec, ...]
    # fideslang collection-level fides_meta: `after`/`erase_after` ordering hints,
    # `masking_strategy_override: {strategy: delete}`, `skip_processing`.
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.dataset}.{self.name}"

    # Worked out once (the spec never changes): asked for every row of a large request.
    @cached_property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.fields if f.primary_key)

    @cached_property
    def top_level(self) -> tuple[str, ...]:
        """The names a connector selects: nested fields live inside their top-level parent."""
        seen: dict[str, None] = {}
        for f in self.fields:
            seen.setdefault(f.path.split(".", 1)[0], None)
        return tuple(seen)

    def field(self, path: str) -> FieldSpec:
        for f in self.fields:
            if f.path == path:
                return f
        raise KeyError(path)


class ChangeAction(StrEnum):
    UPDATE = "update"  # set fields (masking, rectification, a restriction flag)
    DELETE = "delete"  # remove the row


@dataclass(frozen=True)
class Change:
    """One row to change: `key` names the row, `values` the fields to set (dotted paths).

    For UPDATE, connectors set only the fields named, leaving the rest of a nested value
    as it is. Applying a change whose effect is already there is not an error.
    """

    collection: CollectionSpec
    key: Mapping[str, Any]
    action: ChangeAction
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    """What a batch of changes did: rows changed per collection key (0 when already done)."""

    changed: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.changed.values())


class Connector(Protocol):
    """What the engine needs of a system. Implementations live one per module here."""

    name: str  # the system's key in the policy, used in messages

    def check(self) -> str:
        """Connect and prove access; a one-line description (server and version) or an error."""
        ...

    def find(self, collection: CollectionSpec, where: Mapping[str, Sequence[Any]]) -> Iterator[Row]:
        """Rows whose field (a key of `where`) holds any of its values; fields are ORed.

        Streams: a person with a million rows must not be held in memory. Values the system
        cannot hold (a string for an integer column) simply match nothing.
        """
        ...

    def reading(self) -> AbstractContextManager[None]:
        """A scope whose finds share one connection (SQL: one checkout and one transaction
        for all of a dataset's collections, instead of one per collection)."""
        ...

    def apply(self, changes: Sequence[Change]) -> Applied:
        """Carry out the changes in order; atomically where the system allows (SQL: one
        transaction). Must be idempotent: the same batch twice leaves the same state."""
        ...

    def apply_batches(self, batches: Iterable[Sequence[Change]]) -> Applied:
        """`apply` for changes that come a batch at a time (a person with a million rows),
        holding one batch at a time: still in one transaction where the system allows, so
        that an error, or an exception from the iterable, leaves the system as it was."""
        ...

    def close(self) -> None: ...


def apply_each(connector: Connector, batches: Iterable[Sequence[Change]]) -> Applied:
    """`apply_batches` for a system without transactions: each batch applied in turn."""
    changed: dict[str, int] = {}
    for batch in batches:
        for key, count in connector.apply(batch).changed.items():
            changed[key] = changed.get(key, 0) + count
    return Applied(changed=changed)


def _field_specs(fields: Sequence[DatasetField] | None, prefix: str = "") -> Iterator[FieldSpec]:
    for item in fields or ():
        path = f"{prefix}{item.name}"
        meta = item.fides_meta
        references: list[tuple[str, str, str, str | None]] = []
        identity = None
        primary_key = False
        data_type = None
        read_only = False
        length = None
        override = None
        if meta is not None:
            identity = meta.identity
            primary_key = bool(meta.primary_key)
            data_type = meta.data_type
            read_only = bool(meta.read_only)
            length = meta.length
            if meta.masking_strategy_override is not None:
                override = meta.masking_strategy_override.model_dump()
            for reference in meta.references or ():
                collection, _, target = reference.field.partition(".")
                references.append((reference.dataset, collection, target, reference.direction))
        yield FieldSpec(
            path=path,
            data_categories=tuple(item.data_categories or ()),
            identity=identity,
            primary_key=primary_key,
            data_type=data_type,
            read_only=read_only,
            length=length,
            masking_override=override,
            references=tuple(references),
        )
        yield from _field_specs(item.fields, prefix=f"{path}.")


def collection_spec(dataset: str, collection: DatasetCollection) -> CollectionSpec:
    meta = collection.fides_meta
    options = meta.model_dump(exclude_none=True) if meta is not None else {}
    return CollectionSpec(
        dataset=dataset,
        name=collection.name,
        fields=tuple(_field_specs(collection.fields)),
        options=options,
    )


def dataset_specs(dataset: Dataset) -> list[CollectionSpec]:
    return [collection_spec(dataset.fides_key, c) for c in dataset.collections]


def get_path(row: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a row, or None where any part is missing."""
    if type(row) is dict and "." not in path:  # most calls: a column of a row as read
        return row.get(path)
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
