"""A dataset collection bound to its endpoints in an HTTP API description.

Binding checks the description against the dataset once, when the connector opens (every
placeholder a field or a param, every read request able to look something up), then answers
the connector's questions: which request looks up a field, which can fetch a row again from its
key, and how an API record becomes a row (and changed fields become an API body).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from opendpo.connectors.base import CollectionSpec, Row, get_path
from opendpo.connectors.http_spec import (
    CollectionEndpoints,
    ReadRequest,
    RequestSpec,
)
from opendpo.connectors.http_templates import CHANGED_FIELDS, template_names, whole_placeholder

_INTEGER = re.compile(r"-?\d+")


class Unread(Enum):
    NO_READ = "no_read"


NO_READ: Final = Unread.NO_READ
"""A row's key fills no read request, so the record cannot be fetched to compare."""


def put_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in nested dicts, making (or replacing non-dict) parents as needed."""
    *parents, last = path.split(".")
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[last] = value


def comparable(value: Any, *, ignore_case: bool = False) -> str | None:
    """A looked-up or held value as text to compare (a JSON 5 and a path's "5" are one), or
    None for what cannot be looked up (null, booleans, objects)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else str(value)
    elif isinstance(value, int | str):
        text = str(value)
    else:
        return None
    return text.casefold() if ignore_case else text


@dataclass(frozen=True)
class BoundCollection:
    spec: CollectionSpec
    endpoints: CollectionEndpoints
    field_paths: frozenset[str]

    def field_names(self, request: RequestSpec) -> set[str]:
        """The dataset fields a request's placeholders name (the rest are params)."""
        return request.names() & self.field_paths

    def lookup(self, field: str) -> ReadRequest | None:
        """The read request that looks records up by `field` alone."""
        for request in self.endpoints.read:
            if self.field_names(request) == {field}:
                return request
        return None

    def key_read(self, key: Mapping[str, Any]) -> ReadRequest | None:
        """A read request the row's key fills, the most specific first (`/contacts/{id}`)."""
        primary = set(self.spec.primary_key)
        fillable = [
            request
            for request in self.endpoints.read
            if (names := self.field_names(request)) and names <= key.keys()
        ]
        fillable.sort(
            key=lambda r: (self.field_names(r) <= primary, len(self.field_names(r))), reverse=True
        )
        return fillable[0] if fillable else None

    def usable(self, field: str, values: Sequence[Any]) -> list[Any]:
        """The values worth asking the API about, each once: a value of the wrong type, or an
        empty string (which a search could take as "everyone"), matches nothing."""
        integer = self._data_type(field) == "integer"
        found: dict[str, Any] = {}
        for value in values:
            text = comparable(value)
            if text is None or not text.strip():
                continue
            if integer and not (isinstance(value, int) or _INTEGER.fullmatch(text)):
                continue
            found.setdefault(text, value)
        return list(found.values())

    def holds(self, row: Row, field: str, values: Sequence[Any], *, ignore_case: bool) -> bool:
        wanted = {comparable(v, ignore_case=ignore_case) for v in values} - {None}
        held = get_path(row, field)
        items = held if isinstance(held, list) else [held]
        return any(comparable(item, ignore_case=ignore_case) in wanted for item in items)

    def is_row(self, row: Row, key: Mapping[str, Any]) -> bool:
        """Whether a record the API returned is the one `key` names (fields it lacks aside)."""
        for path, value in key.items():
            held = get_path(row, path)
            if held is None or held == value:
                continue
            if comparable(held) is None or comparable(held) != comparable(value):
                return False
        return True

    def row(self, record: Mapping[str, Any]) -> Row:
        """An API record as a row: the dataset's top-level fields, nested ones as mapped."""
        row: Row = {
            name: get_path(record, self.endpoints.api_path(name)) for name in self.spec.top_level
        }
        for path, source in self.endpoints.fields.items():
            if "." in path:
                put_path(row, path, get_path(record, source))
        return row

    def api_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Changed fields (dotted dataset paths) as the API's nested record shape."""
        body: dict[str, Any] = {}
        for path, value in values.items():
            put_path(body, self.endpoints.api_path(path), value)
        return body

    def flatten(self, row: Row | None) -> dict[str, Any]:
        """A row's values by dotted dataset path, for templates."""
        if row is None:
            return {}
        flat = {f.path: get_path(row, f.path) for f in self.spec.fields}
        return {path: value for path, value in flat.items() if value is not None}

    def split(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], bool | None]:
        """(fields to update, the restriction flag's new value or None), where the API
        restricts a record with a request of its own."""
        fields = dict(values)
        restrict = self.endpoints.restrict
        if restrict is None or restrict.flag not in fields:
            return fields, None
        return fields, bool(fields.pop(restrict.flag))

    def _data_type(self, field: str) -> str | None:
        try:
            return self.spec.field(field).data_type
        except KeyError:
            return None


def bind(
    collection: CollectionSpec,
    described: Mapping[str, CollectionEndpoints],
    params: Mapping[str, Any],
) -> BoundCollection:
    """The collection with its endpoints; ValueError saying what in the description is wrong."""
    endpoints = described.get(collection.name)
    where = f"collections.{collection.name}"
    if endpoints is None:
        close = difflib.get_close_matches(collection.name, list(described), n=1)
        hint = f" (is '{close[0]}' meant to be '{collection.name}'?)" if close else ""
        raise ValueError(
            f"{where}: the API description says nothing of {collection.key}, which the dataset "
            f"places on this system{hint}"
        )
    paths = frozenset(f.path for f in collection.fields)
    bound = BoundCollection(collection, endpoints, paths)
    for name in endpoints.fields:
        if name not in paths:
            raise ValueError(f"{where}.fields: {name} is not a field of {collection.key}")
    for part, request in endpoints.requests():
        allowed = paths | params.keys()
        if not part.startswith("read"):
            allowed = allowed | {CHANGED_FIELDS}
        unknown = sorted(request.names() - allowed)
        if unknown:
            raise ValueError(
                f"{where}.{part}: {{{unknown[0]}}} is neither a field of {collection.key} "
                "nor a param"
            )
    for index, read in enumerate(endpoints.read):
        _check_read(bound, read, f"{where}.read[{index}]")
    restrict = endpoints.restrict
    if restrict is not None and restrict.flag not in paths:
        raise ValueError(
            f"{where}.restrict.flag: {restrict.flag} is not a field of {collection.key}"
        )
    return bound


def _check_read(bound: BoundCollection, read: ReadRequest, where: str) -> None:
    names = bound.field_names(read)
    if not names:
        raise ValueError(f"{where}: {read.label} names no field of {bound.spec.key} to look up by")
    if read.batch_size == 1:
        return
    name = next(iter(names)) if len(names) == 1 else None
    whole_values: list[object] = [*read.query.values()]
    if isinstance(read.body, dict):
        whole_values.extend(read.body.values())
    in_path = name is not None and name in set(template_names(read.path))
    if in_path or not any(whole_placeholder(value) == name for value in whole_values):
        raise ValueError(
            f"{where}: batch_size needs the one field looked up to be a whole query or body "
            "value, outside the path"
        )
