"""Finding rows in Redis: which keys to visit for a query, and reading them in batches.

Keys named in full by the query's values are read in pipelines of a thousand (one round trip
each). Values that fill only part of a pattern become SCAN MATCH passes, one per value, with
the value's glob characters escaped and each key read back against the pattern to recover the
other placeholders. Fields held inside values (a hash field, a JSON key) can only be matched by
reading every key of the collection. Sets, sorted sets and lists are streamed member by member
(SSCAN, ZSCAN, LRANGE pages) or probed for the members asked about (SMISMEMBER, ZMSCORE, LPOS).

Memory stays bounded by the batch size, except for the names of keys already yielded, which
are kept because SCAN may return a key twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

import redis

from opendpo.connectors.base import Row
from opendpo.connectors.redis_layout import Layout, Query

SCAN_COUNT = 1000
READ_BATCH = 1000

Located = list[tuple[str, dict[str, str]]]  # keys, with the placeholder values read from each


class Reader:
    def __init__(self, system: str, client: redis.Redis) -> None:
        self.system = system
        self.client = client

    def rows(self, layout: Layout, query: Query) -> Iterator[Row]:
        if query.stored:
            yield from self._matching_values(layout, query)
            return
        seen: set[str] = set()
        for batch in self._located(layout, query, seen):
            if layout.set_like:
                for key, fields in batch:
                    yield from self._all_members(layout, key, fields)
            else:
                for (_, fields), value in zip(batch, self._read(layout, batch), strict=True):
                    if value is not None:
                        yield layout.row(fields, value)
        if query.members:
            yield from self._members(layout, query.members, seen)

    def _scan(self, layout: Layout, glob: str) -> Iterator[list[str]]:
        cursor = 0
        while True:
            reply = self.client.scan(cursor, match=glob, count=SCAN_COUNT, _type=layout.redis_type)
            cursor, keys = cast(tuple[int, list[str]], reply)
            if keys:
                yield keys
            if cursor == 0:
                return

    def _family(self, layout: Layout) -> Iterator[list[str]]:
        """Every key of the collection, a batch at a time."""
        exact = layout.pattern.exact({})
        if exact is not None:
            yield [exact]
        else:
            yield from self._scan(layout, layout.pattern.glob({}))

    def _located(self, layout: Layout, query: Query, seen: set[str]) -> Iterator[Located]:
        """Keys the query's placeholder values name, each once, with the fields read from it."""
        exact = [(t.exact, {t.field: t.value}) for t in query.terms if t.exact is not None]
        seen.update(key for key, _ in exact)
        for start in range(0, len(exact), READ_BATCH):
            yield exact[start : start + READ_BATCH]
        for term in query.terms:
            if term.exact is not None:
                continue
            for keys in self._scan(layout, term.glob):
                batch = []
                for key in keys:
                    fields = term.match.parse(key)
                    if fields is not None and key not in seen:
                        seen.add(key)
                        batch.append((key, fields))
                if batch:
                    yield batch

    def _read(self, layout: Layout, batch: Sequence[tuple[str, Any]]) -> list[Any]:
        """What each key holds, in one round trip: a hash's mapping, a JSON object or plain
        text; None where the key is gone."""
        if not batch:
            return []
        with self.client.pipeline(transaction=False) as pipe:
            for key, _ in batch:
                if layout.kind == "hash":
                    pipe.hgetall(key)
                else:
                    pipe.get(key)
            results = pipe.execute()
        if layout.kind == "hash":
            return [result or None for result in results]
        if layout.value_field is not None:
            return list(results)
        return [None if text is None else layout.decode(self.system, text) for text in results]

    def _matching_values(self, layout: Layout, query: Query) -> Iterator[Row]:
        """Rows whose key or held value matches: every key of the collection is read."""
        family = layout.pattern.match({})
        seen: set[str] = set()
        for keys in self._family(layout):
            batch = [(key, None) for key in keys if key not in seen]
            for (key, _), value in zip(batch, self._read(layout, batch), strict=True):
                if value is None:
                    continue
                parsed = (term.match.parse(key) for term in query.terms)
                fields = next((f for f in parsed if f is not None), None)
                if fields is None and layout.stored_match(query, value):
                    fields = family.parse(key)
                if fields is not None:
                    seen.add(key)
                    yield layout.row(fields, value)

    def _all_members(self, layout: Layout, key: str, fields: dict[str, str]) -> Iterator[Row]:
        if layout.kind == "list":
            start = 0
            while items := cast(list[str], self.client.lrange(key, start, start + READ_BATCH - 1)):
                for item in items:
                    yield layout.row(fields, item)
                start += len(items)
            return
        members: Iterator[Any]
        if layout.kind == "set":
            members = self.client.sscan_iter(key, count=SCAN_COUNT)
        else:
            members = (member for member, _ in self.client.zscan_iter(key, count=SCAN_COUNT))
        seen: set[str] = set()  # SSCAN and ZSCAN may return a member twice
        for member in members:
            if member not in seen:
                seen.add(member)
                yield layout.row(fields, member)

    def _members(self, layout: Layout, members: Sequence[str], seen: set[str]) -> Iterator[Row]:
        """Rows of the given members, in every key of the collection not read whole already."""
        family = layout.pattern.match({})
        for keys in self._family(layout):
            batch = [(k, f) for k in keys if k not in seen and (f := family.parse(k)) is not None]
            if not batch:
                continue
            with self.client.pipeline(transaction=False) as pipe:
                for key, _ in batch:
                    if layout.kind == "set":
                        pipe.smismember(key, list(members))
                    elif layout.kind == "sorted_set":
                        pipe.zmscore(key, list(members))
                    else:
                        for member in members:
                            pipe.lpos(key, member, count=0)
                results = iter(pipe.execute())
            for key, fields in batch:
                if layout.kind == "list":
                    counts = [len(next(results)) for _ in members]
                elif layout.kind == "set":
                    counts = [int(bool(found)) for found in next(results)]
                else:
                    counts = [int(score is not None) for score in next(results)]
                if any(counts):
                    seen.add(key)
                for member, count in zip(members, counts, strict=True):
                    for _ in range(count):
                        yield layout.row(fields, member)
