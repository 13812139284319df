"""The connector for HTTP/REST APIs, described in YAML (the shape: opendpo.connectors.http_spec).

Finding: each value is looked up with the read request that takes its field (one call per
value, or `batch_size` values per call through a list parameter), following the pages. A
record is kept only if it holds a value looked up, so a search that also returns near matches
never hands over someone else's data; a record without the field, from a request for one value
(`/contacts/{contact_id}/notes`), is given it. A 404 means no records.

Changing: an HTTP API cannot change several records atomically, so each call is made
idempotent instead. Before an update the record is read again, where a read request can be
filled from the row's key, and nothing is sent (counted 0) if it already holds the values or
is gone. Without such a read the update is sent every time and counted. A DELETE answered 404
or 410 was already done (0). Where the API restricts a record with a request of its own
(`restrict`, with the dataset field the engine sets as its `flag`), setting the flag true
sends it, and false sends `unrestrict` (a 404 there: no restriction to lift, so done).

Errors are opendpo.connectors.http_client.HttpApiError: retryable for 429, 408 and 5xx (with
the seconds of any Retry-After as `retry_after`), not for anything else.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any, Literal

from opendpo.connectors.base import (
    Applied,
    Change,
    ChangeAction,
    CollectionSpec,
    ConnectorError,
    NotSupported,
    Row,
    apply_each,
    get_path,
)
from opendpo.connectors.http_binding import NO_READ, BoundCollection, Unread, bind, put_path
from opendpo.connectors.http_client import GONE, ApiClient, HttpApiError
from opendpo.connectors.http_spec import (
    HttpConnection,
    ReadRequest,
    RequestSpec,
    load_spec,
)
from opendpo.connectors.http_templates import CHANGED_FIELDS
from opendpo.errors import InvalidValue

logger = logging.getLogger(__name__)

__all__ = ["HttpApiError", "HttpConnection", "HttpConnector"]


class HttpConnector:
    def __init__(
        self,
        name: str,
        config: HttpConnection,
        collections: Sequence[CollectionSpec],
        *,
        environ: Mapping[str, str],
    ) -> None:
        self.name = name
        self._config = config
        try:
            spec = load_spec(config)
        except InvalidValue as exc:
            raise ConnectorError(name, str(exc), retryable=False) from None
        self._check = spec.check
        self._collections: dict[str, BoundCollection] = {}
        for collection in collections:
            if collection.options.get("skip_processing"):
                continue
            try:
                self._collections[collection.key] = bind(
                    collection, spec.collections, config.params
                )
            except ValueError as exc:
                raise ConnectorError(name, str(exc), retryable=False) from None
        self._api = ApiClient(name, config, environ)

    def __enter__(self) -> HttpConnector:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._api.close()

    def reading(self) -> AbstractContextManager[None]:
        return nullcontext()  # each look-up is its own request: nothing to share

    def check(self) -> str:
        base_url = self._config.base_url
        if self._check is not None:
            label = f"check {self._check.label}"
            response = self._api.call(self._check, self._config.params, label, accept=())
        else:
            # Without a check request, any answer short of a refusal shows the API is there.
            label = f"GET {base_url}"
            response = self._api.call(RequestSpec(path="/"), {}, label, accept=(404, 405))
        return f"HTTP API {base_url} ({response.status_code})"

    # Finding

    def find(self, collection: CollectionSpec, where: Mapping[str, Sequence[Any]]) -> Iterator[Row]:
        bound = self._bound(collection)
        lookups: list[tuple[str, ReadRequest, list[Any]]] = []
        for field, values in where.items():
            request = bound.lookup(field)
            if request is None:
                raise NotSupported(
                    self.name,
                    f"{collection.key}: no read request looks records up by {field} "
                    f"(one whose path or query has {{{field}}})",
                )
            usable = bound.usable(field, values)
            if usable:
                lookups.append((field, request, usable))
        return self._find(bound, lookups)

    def _find(
        self, bound: BoundCollection, lookups: list[tuple[str, ReadRequest, list[Any]]]
    ) -> Iterator[Row]:
        seen: set[bytes] = set()
        for field, request, values in lookups:
            label = f"{bound.spec.name} {request.label}"
            for start in range(0, len(values), request.batch_size):
                batch = values[start : start + request.batch_size]
                lookup = batch[0] if request.batch_size == 1 else batch
                context = {**self._config.params, field: lookup}
                for record in self._api.records(request, context, label):
                    row = bound.row(record)
                    if get_path(row, field) is None and len(batch) == 1:
                        put_path(row, field, batch[0])
                    if not bound.holds(row, field, batch, ignore_case=request.ignore_case):
                        continue
                    marker = _marker(row, bound.spec.primary_key)
                    if marker not in seen:
                        seen.add(marker)
                        yield row

    # Changing

    def apply_batches(self, batches: Iterable[Sequence[Change]]) -> Applied:
        return apply_each(self, batches)  # no transaction spans calls: each batch alone

    def apply(self, changes: Sequence[Change]) -> Applied:
        planned = [(self._bound(change.collection), change) for change in changes]
        # Refuse what cannot be done before anything is written.
        for bound, change in planned:
            self._refuse_unsupported(bound, change)
        counts: dict[str, int] = {}
        for bound, change in planned:
            if change.action is ChangeAction.DELETE:
                done = self._delete(bound, change)
            else:
                done = self._update(bound, change)
            key = change.collection.key
            counts[key] = counts.get(key, 0) + done
        return Applied(counts)

    def _refuse_unsupported(self, bound: BoundCollection, change: Change) -> None:
        endpoints, key = bound.endpoints, change.collection.key
        if change.action is ChangeAction.DELETE:
            if endpoints.delete is None:
                raise NotSupported(self.name, f"{key}: the API description has no delete request")
            return
        values, flag = bound.split(change.values)
        if values and endpoints.update is None:
            raise NotSupported(self.name, f"{key}: the API description has no update request")
        if flag is False and endpoints.unrestrict is None:
            raise NotSupported(self.name, f"{key}: the API cannot lift a restriction")

    def _update(self, bound: BoundCollection, change: Change) -> int:
        values, flag = bound.split(change.values)
        endpoints = bound.endpoints
        if not values and flag is None:
            return 0
        current = self._current(bound, change.key)
        if current is None:
            return 0  # gone: nothing left to change
        row = None if current is NO_READ else current
        done = False
        update = endpoints.update
        if values and update is not None and (row is None or _differs(row, values)):
            done |= self._write(bound, update, change.key, row, values)
        if flag is not None and endpoints.restrict is not None:
            held = get_path(row, endpoints.restrict.flag) if row is not None else None
            if held is None or bool(held) != flag:
                request = endpoints.restrict if flag else endpoints.unrestrict
                assert request is not None  # refused before anything was written
                # Lifting a restriction that is not there (404) is already done.
                done |= self._write(bound, request, change.key, row, {}, gone_is_done=not flag)
        return int(done)

    def _current(
        self, bound: BoundCollection, key: Mapping[str, Any]
    ) -> Row | Literal[Unread.NO_READ] | None:
        """The record as the API holds it now: None if gone, NO_READ if no read can fetch it."""
        request = bound.key_read(key)
        if request is None:
            return NO_READ
        names = bound.field_names(request)
        context = {**self._config.params, **{name: key[name] for name in names}}
        label = f"{bound.spec.name} {request.label}"
        for record in self._api.records(request, context, label):
            row = bound.row(record)
            for name in names:
                if get_path(row, name) is None:
                    put_path(row, name, key[name])
            if bound.is_row(row, key):
                return row
        return None

    def _write(
        self,
        bound: BoundCollection,
        request: RequestSpec,
        key: Mapping[str, Any],
        current: Row | None,
        values: Mapping[str, Any],
        *,
        gone_is_done: bool = False,
    ) -> bool:
        """Send an update or restriction; False where a 404 or 410 means there is nothing to
        do: the record was not read first (so may be gone), or `gone_is_done`."""
        label = f"{bound.spec.name} {request.label}"
        # The path names the record as it is; the body may use the new values.
        as_is = {**self._config.params, **bound.flatten(current), **key}
        body_values = {**as_is, **values, CHANGED_FIELDS: bound.api_values(values)}
        response = self._api.call(request, body_values, label, path_values=as_is)
        if response.status_code in GONE:
            if current is not None and not gone_is_done:
                raise HttpApiError(
                    self.name,
                    f"{label}: answered {response.status_code} for a record the API had just "
                    "returned; check the path",
                    retryable=False,
                    status=response.status_code,
                )
            logger.info("%s: %s answered %s: nothing to do", self.name, label, response.status_code)
            return False
        return True

    def _delete(self, bound: BoundCollection, change: Change) -> int:
        request = bound.endpoints.delete
        assert request is not None  # refused before anything was written
        label = f"{bound.spec.name} {request.label}"
        response = self._api.call(request, {**self._config.params, **change.key}, label)
        return 0 if response.status_code in GONE else 1

    def _bound(self, collection: CollectionSpec) -> BoundCollection:
        bound = self._collections.get(collection.key)
        if bound is None:
            raise ConnectorError(
                self.name, f"{collection.key} is not a collection of this system", retryable=False
            )
        return bound


def _differs(row: Row, values: Mapping[str, Any]) -> bool:
    return any(get_path(row, path) != value for path, value in values.items())


def _marker(row: Row, primary_key: tuple[str, ...]) -> bytes:
    """A short fingerprint of a row, so that a record found through two fields comes once."""
    identity = [get_path(row, path) for path in primary_key] if primary_key else row
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()
