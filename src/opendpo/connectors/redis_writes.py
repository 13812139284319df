"""What a batch of changes does to Redis, worked out before anything is written.

`apply` WATCHes every key a batch touches and reads what those keys hold; the changes are then
replayed here, in order, against that state. The replay yields the commands for one
MULTI/EXEC and the rows each change really changes: a change already in effect writes nothing
and counts 0 (so a batch run twice reports 0 the second time), and a later change in a batch
sees what an earlier one did. Sets, sorted sets and lists are never read whole: only the
members the batch names are probed.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis

from opendpo.connectors.base import Change, ChangeAction, ConnectorError, NotSupported
from opendpo.connectors.redis_layout import Layout, key_text

Command = tuple[str | int | float, ...]
REMOVE = {"set": "SREM", "sorted_set": "ZREM"}


@dataclass(frozen=True)
class Location:
    key: str
    member: str | None = None


@dataclass(frozen=True)
class Step:
    """One change, located: where its row is, where it will be, what to set inside it."""

    layout: Layout
    action: ChangeAction
    old: Location
    new: Location
    stored: Mapping[str, Any] = field(default_factory=dict)
    # Placeholder fields being changed, also set inside a hash or JSON value that holds them.
    echoes: Mapping[str, Any] = field(default_factory=dict)


def _locate(layout: Layout, fields: Mapping[str, str]) -> Location:
    member = fields[layout.member_field] if layout.member_field is not None else None
    return Location(layout.pattern.render(fields), member)


def plan(system: str, layout: Layout, change: Change) -> Step:
    """Where `change` acts; errors, before anything is read, for changes that cannot be made."""
    spec = layout.spec
    fields: dict[str, str] = {}
    for name in layout.locators:
        if name not in change.key:
            raise ConnectorError(
                system,
                f"{spec.key}: a change must name '{name}' to locate its row",
                retryable=False,
            )
        text = key_text(change.key[name])
        if text is None:
            raise ConnectorError(
                system,
                f"{spec.key}: '{name}' of a change is not text or an integer",
                retryable=False,
            )
        fields[name] = text
    old = _locate(layout, fields)
    if change.action is ChangeAction.DELETE:
        return Step(layout, change.action, old, old)
    stored: dict[str, Any] = {}
    echoes: dict[str, Any] = {}
    for path, value in change.values.items():
        if path in layout.locators:
            text = key_text(value)
            if text is None:
                raise NotSupported(
                    system,
                    f"{spec.key}: '{path}' locates the row in Redis ('{layout.pattern.text}'), so "
                    "it can only be set to text or an integer; erase the row instead",
                )
            fields[path] = text
            echoes[path] = value
        elif layout.holds(path):
            stored[path] = value
        else:
            raise ConnectorError(system, f"{spec.key} has no field '{path}'", retryable=False)
    return Step(layout, change.action, old, _locate(layout, fields), stored, echoes)


def probes(steps: Sequence[Step]) -> tuple[dict[str, Layout], dict[str, tuple[Layout, list[str]]]]:
    """What to read first: keys held whole (hashes, strings), and members of set-likes."""
    whole: dict[str, Layout] = {}
    members: dict[str, tuple[Layout, dict[str, None]]] = {}
    for step in steps:
        for location in (step.old, step.new):
            if location.member is None:
                whole.setdefault(location.key, step.layout)
            else:
                members.setdefault(location.key, (step.layout, {}))[1][location.member] = None
    return whole, {key: (layout, list(names)) for key, (layout, names) in members.items()}


def read_state(
    client: redis.Redis,
    whole: Mapping[str, Layout],
    members: Mapping[str, tuple[Layout, list[str]]],
) -> tuple[dict[str, Any], dict[tuple[str, str], tuple[int, float | None]]]:
    """What the watched keys hold now, read in one round trip."""
    with client.pipeline(transaction=False) as pipe:
        for key, layout in whole.items():
            if layout.kind == "hash":
                pipe.hgetall(key)
            else:
                pipe.get(key)
        for key, (layout, names) in members.items():
            if layout.kind == "set":
                pipe.smismember(key, names)
            elif layout.kind == "sorted_set":
                pipe.zmscore(key, names)
            else:
                for name in names:
                    pipe.lpos(key, name, count=0)
        results = iter(pipe.execute())
    # An empty hash does not exist; an empty string does.
    values = {
        key: (next(results) or None) if layout.kind == "hash" else next(results)
        for key, layout in whole.items()
    }
    held: dict[tuple[str, str], tuple[int, float | None]] = {}
    for key, (layout, names) in members.items():
        if layout.kind == "list":
            held.update({(key, name): (len(next(results)), None) for name in names})
            continue
        for name, found in zip(names, next(results), strict=True):
            if layout.kind == "set":
                held[(key, name)] = (int(bool(found)), None)
            else:
                held[(key, name)] = (0, None) if found is None else (1, float(found))
    return values, held


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default)


class Replay:
    """The changes of a batch played against the state read under WATCH.

    `values` maps each whole key to its hash mapping or string text (None: no such key);
    `members` maps (key, member) to how many times the member is there (0 or 1 but for
    lists) and its score in a sorted set.
    """

    def __init__(
        self,
        system: str,
        values: dict[str, Any],
        members: dict[tuple[str, str], tuple[int, float | None]],
    ) -> None:
        self.system = system
        self.values = values
        self.members = members
        self.commands: list[Command] = []
        self.changed: dict[str, int] = {}

    def run(self, step: Step) -> None:
        count = self._member(step) if step.layout.set_like else self._whole(step)
        key = step.layout.spec.key
        self.changed[key] = self.changed.get(key, 0) + count

    def _whole(self, step: Step) -> int:
        key = step.old.key
        value = self.values.get(key)
        if value is None:
            return 0  # gone already: erased or moved by an earlier run
        if step.action is ChangeAction.DELETE:
            self.commands.append(("DEL", key))
            self.values[key] = None
            return 1
        moved = step.new.key != key
        if moved:
            if self.values.get(step.new.key) is not None:
                raise ConnectorError(
                    self.system,
                    f"{step.layout.spec.key}: another row already holds the key this change "
                    "would move its row to",
                    retryable=False,
                )
            self.commands.append(("RENAME", key, step.new.key))  # keeps the TTL
            self.values[key] = None
            key = step.new.key
            self.values[key] = value
        return int(self._rewrite(step, key, value) or moved)

    def _rewrite(self, step: Step, key: str, value: Any) -> bool:
        layout = step.layout
        if layout.kind == "hash":
            return self._hash(step, key, value)
        if layout.value_field is not None:
            wanted = step.stored.get(layout.value_field, value)
            if wanted is None:
                self.commands.append(("DEL", key))
                self.values[key] = None
                return True
            if _holds(layout, layout.value_field, value, wanted):
                return False
            text = _text(self.system, layout, layout.value_field, wanted, value)
            self.commands.append(("SET", key, text, "KEEPTTL"))
            self.values[key] = text
            return True
        held = layout.decode(self.system, value)
        updated = copy.deepcopy(held)
        echoes = {name: v for name, v in step.echoes.items() if name in held}
        for path, wanted in {**echoes, **step.stored}.items():
            _set_path(self.system, layout, updated, path, wanted)
        if _canonical(updated) == _canonical(held):
            return False
        text = json.dumps(updated, ensure_ascii=False, default=_json_default)
        self.commands.append(("SET", key, text, "KEEPTTL"))  # SET alone would drop the TTL
        self.values[key] = text
        return True

    def _hash(self, step: Step, key: str, value: dict[str, str]) -> bool:
        layout = step.layout
        echoes = {name: v for name, v in step.echoes.items() if name in value}
        sets: dict[str, str] = {}
        drops: list[str] = []
        for name, wanted in {**echoes, **step.stored}.items():
            held = value.get(name)
            if wanted is None:
                if held is not None:
                    drops.append(name)
            elif held is None or not _holds(layout, name, held, wanted):
                sets[name] = _text(self.system, layout, name, wanted, held)
        if sets:
            self.commands.append(("HSET", key, *(part for item in sets.items() for part in item)))
        if drops:
            self.commands.append(("HDEL", key, *drops))
        updated = {name: text for name, text in {**value, **sets}.items() if name not in drops}
        self.values[key] = updated or None  # Redis removes an emptied hash
        return bool(sets or drops)

    def _member(self, step: Step) -> int:
        kind = step.layout.kind
        old, new = step.old, step.new
        assert old.member is not None and new.member is not None
        count, score = self.members.get((old.key, old.member), (0, None))
        if count == 0 or (step.action is ChangeAction.UPDATE and new == old):
            return 0
        self.members[(old.key, old.member)] = (0, None)
        if kind == "list" and step.action is ChangeAction.UPDATE and new.key == old.key:
            # In place: each LINSERT lands before the first remaining old member, which the
            # LREM that follows removes.
            for _ in range(count):
                self.commands.append(("LINSERT", old.key, "BEFORE", old.member, new.member))
                self.commands.append(("LREM", old.key, 1, old.member))
        elif kind == "list":
            self.commands.append(("LREM", old.key, 0, old.member))
        else:
            self.commands.append((REMOVE[kind], old.key, old.member))
        if step.action is ChangeAction.DELETE:
            return count
        there, there_score = self.members.get((new.key, new.member), (0, None))
        if kind == "list":
            if new.key != old.key:
                self.commands += [("RPUSH", new.key, new.member)] * count
            self.members[(new.key, new.member)] = (there + count, None)
        elif there == 0:
            add: Command = ("SADD", new.key, new.member)
            if kind == "sorted_set":
                add = ("ZADD", new.key, score if score is not None else 0.0, new.member)
            self.commands.append(add)
            self.members[(new.key, new.member)] = (1, score)
        else:
            self.members[(new.key, new.member)] = (there, there_score)
        return count


def _holds(layout: Layout, name: str, held: str, wanted: Any) -> bool:
    """Whether text already in Redis stands for the value a change wants there."""
    if held == key_text(wanted):
        return True
    typed = layout.typed(name, held)
    return type(typed) is type(wanted) and bool(typed == wanted)


def _text(system: str, layout: Layout, name: str, value: Any, held: str | None) -> str:
    """A value as Redis text; a flag follows the 1/0 or true/false style already there."""
    if isinstance(value, bool):
        if held in {"0", "1"}:
            return "1" if value else "0"
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime | dt.time | Decimal):
        return str(_json_default(value))
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, ensure_ascii=False, default=_json_default)
        except TypeError:
            pass
    raise ConnectorError(
        system,
        f"{layout.spec.key}: '{name}' cannot hold a {type(value).__name__}",
        retryable=False,
    )


def _set_path(system: str, layout: Layout, target: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path inside a JSON object, leaving its siblings as they are."""
    *parents, leaf = path.split(".")
    node = target
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConnectorError(
                system,
                f"{layout.spec.key}: cannot set '{path}': '{part}' holds a value, not an object",
                retryable=False,
            )
        node = child
    node[leaf] = value
