"""How a Redis system holds a dataset collection: a key pattern, a value type, and which
dataset field lives where.

A pattern such as `cart:{customer_id}:{email}` names dataset fields between braces (`{{` and
`}}` stand for literal braces). A placeholder may hold any characters, separators included,
so a key is read back against the pattern with the values the caller knows fixed and the
others matched shortest-first: `cart:1:x:y@example.com` looked up by email `x:y@example.com`
gives customer_id `1`. Two placeholders must be separated by some literal text, or no key
could be read back.

Redis holds text, so values that come from keys, hash fields, set members and plain strings
are text, except for fields the dataset types as integers (their canonical decimal text
becomes an int, so the row joins with other systems) and, outside keys, booleans and floats.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from opendpo.connectors.base import CollectionSpec, ConnectorError, Row, get_path

if TYPE_CHECKING:
    from opendpo.connectors.redis_keys import RedisCollection

Kind = Literal["hash", "string", "set", "sorted_set", "list"]
# What SCAN's TYPE option calls each kind.
REDIS_TYPES: Mapping[str, str] = {
    "hash": "hash",
    "string": "string",
    "set": "set",
    "sorted_set": "zset",
    "list": "list",
}
SET_LIKE = frozenset({"set", "sorted_set", "list"})
GLOB_SPECIAL = frozenset("*?[]\\")
TRUE_TEXTS = frozenset({"true", "1"})
FALSE_TEXTS = frozenset({"false", "0"})


def glob_escape(text: str) -> str:
    """Text that SCAN MATCH takes literally, whatever glob characters it holds."""
    return "".join(f"\\{char}" if char in GLOB_SPECIAL else char for char in text)


def key_text(value: Any) -> str | None:
    """A value as it appears in a key or a member: text and integers; nothing else can."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


@dataclass(frozen=True)
class KeyMatch:
    """Reads keys back against a pattern with some placeholder values fixed."""

    fixed: Mapping[str, str]
    free: tuple[str, ...]
    regex: re.Pattern[str]

    def parse(self, key: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(key)
        if found is None:
            return None
        return {**self.fixed, **dict(zip(self.free, found.groups(), strict=True))}


@dataclass(frozen=True)
class KeyPattern:
    text: str
    literals: tuple[str, ...]  # one more than fields: the text around each placeholder
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> KeyPattern:
        """The pattern in `text`; ValueError saying what is wrong and where."""
        if not text:
            raise ValueError("is empty")
        literals: list[str] = []
        fields: list[str] = []
        current: list[str] = []
        at = 0
        while at < len(text):
            if text.startswith(("{{", "}}"), at):
                current.append(text[at])
                at += 2
                continue
            char = text[at]
            if char == "}":
                raise ValueError(f"'}}' at position {at + 1} closes nothing (write '}}}}')")
            if char != "{":
                current.append(char)
                at += 1
                continue
            end = text.find("}", at + 1)
            name = text[at + 1 : end] if end > 0 else ""
            if end < 0 or "{" in name:
                raise ValueError(f"'{{' at position {at + 1} is not closed")
            if not name:
                raise ValueError(f"'{{}}' at position {at + 1} names no field")
            if name in fields:
                raise ValueError(f"{{{name}}} appears twice")
            if fields and not current:
                raise ValueError(
                    f"{{{fields[-1]}}} and {{{name}}} need some text between them, "
                    "or keys could not be read back"
                )
            literals.append("".join(current))
            current = []
            fields.append(name)
            at = end + 1
        literals.append("".join(current))
        return cls(text=text, literals=tuple(literals), fields=tuple(fields))

    def render(self, values: Mapping[str, str]) -> str:
        parts = [self.literals[0]]
        for name, literal in zip(self.fields, self.literals[1:], strict=True):
            parts += [values[name], literal]
        return "".join(parts)

    def exact(self, fixed: Mapping[str, str]) -> str | None:
        """The one key these values name, when they fill every placeholder."""
        return self.render(fixed) if all(f in fixed for f in self.fields) else None

    def glob(self, fixed: Mapping[str, str]) -> str:
        parts = [glob_escape(self.literals[0])]
        for name, literal in zip(self.fields, self.literals[1:], strict=True):
            parts += [glob_escape(fixed[name]) if name in fixed else "*", glob_escape(literal)]
        return "".join(parts)

    def match(self, fixed: Mapping[str, str]) -> KeyMatch:
        parts = [re.escape(self.literals[0])]
        for name, literal in zip(self.fields, self.literals[1:], strict=True):
            parts += [re.escape(fixed[name]) if name in fixed else "(.*?)", re.escape(literal)]
        free = tuple(f for f in self.fields if f not in fixed)
        return KeyMatch(dict(fixed), free, re.compile("".join(parts), re.DOTALL))


@dataclass(frozen=True)
class KeyTerm:
    """One value of one placeholder field that `find` looks for."""

    field: str
    value: str
    match: KeyMatch
    glob: str
    exact: str | None


@dataclass(frozen=True)
class Query:
    terms: tuple[KeyTerm, ...]
    members: tuple[str, ...]
    stored: Mapping[str, tuple[Any, ...]]  # fields held inside the value, and their values

    @property
    def empty(self) -> bool:
        return not (self.terms or self.members or self.stored)


def _same(held: Any, wanted: Any) -> bool:
    """Equal as JSON sees it: true is not 1, and "1" is not 1."""
    if isinstance(held, bool) or isinstance(wanted, bool):
        return isinstance(held, bool) and isinstance(wanted, bool) and held == wanted
    if isinstance(held, int | float) and isinstance(wanted, int | float):
        return held == wanted
    return type(held) is type(wanted) and bool(held == wanted)


@dataclass(frozen=True)
class Layout:
    """A collection's RedisCollection checked against its dataset fields."""

    spec: CollectionSpec
    pattern: KeyPattern
    kind: Kind
    value_field: str | None
    member_field: str | None
    restriction_field: str | None
    data_types: Mapping[str, str | None]

    @classmethod
    def build(cls, system: str, config: RedisCollection, spec: CollectionSpec) -> Layout:
        def fail(message: str) -> ConnectorError:
            return ConnectorError(system, f"collections.{spec.name}: {message}", retryable=False)

        pattern = KeyPattern.parse(config.key)
        top = spec.top_level
        parents = {f.path.split(".", 1)[0] for f in spec.fields if "." in f.path}
        known = ", ".join(top)
        for name in pattern.fields:
            if name not in top:
                raise fail(
                    f"placeholder {{{name}}} in key '{config.key}' is not a field of "
                    f"{spec.key} (fields: {known})"
                )
            if name in parents:
                raise fail(f"placeholder {{{name}}} names a field with nested fields")
        named = {
            "value_field": config.value_field,
            "member_field": config.member_field,
            "restriction_field": config.restriction_field,
        }
        for option, value in named.items():
            if value is not None and (value not in top or value in parents):
                raise fail(f"{option} '{value}' is not a field of {spec.key} (fields: {known})")
        layout = cls(
            spec,
            pattern,
            config.type,
            config.value_field,
            config.member_field,
            config.restriction_field,
            {f.path: f.data_type for f in spec.fields},
        )
        held = layout.row_fields
        if config.type == "hash" and parents:
            raise fail(
                f"a hash holds flat fields, but {spec.key} nests fields under "
                f"{', '.join(sorted(parents))}"
            )
        if held:
            extra = [name for name in top if name not in held]
            if extra:
                raise fail(
                    f"a {config.type} keyed '{config.key}' can only hold "
                    f"{', '.join(held)}, not {', '.join(extra)}"
                )
        primary = set(spec.primary_key)
        missing = [name for name in layout.locators if name not in primary]
        if primary and missing:
            raise fail(
                f"the primary key of {spec.key} must include the fields that locate a row in "
                f"Redis: {', '.join(missing)}"
            )
        return layout

    @property
    def set_like(self) -> bool:
        return self.kind in SET_LIKE

    @property
    def redis_type(self) -> str:
        return REDIS_TYPES[self.kind]

    @property
    def row_fields(self) -> tuple[str, ...]:
        """Every field of a row, where a row is only its key and its member or plain value;
        empty for hashes and JSON objects, which hold whichever fields the dataset names."""
        single = self.member_field or self.value_field
        return (*self.pattern.fields, single) if single is not None else ()

    @property
    def locators(self) -> tuple[str, ...]:
        """The fields that locate a row: the placeholders, and the member of a set-like."""
        member = (self.member_field,) if self.member_field is not None else ()
        return (*self.pattern.fields, *member)

    def holds(self, path: str) -> bool:
        """Whether `path` is a field kept inside the value (not in the key, not a member)."""
        if path in self.pattern.fields or self.set_like:
            return False
        if self.kind == "hash" or self.value_field is not None:
            return path in self.spec.top_level
        return any(f.path == path for f in self.spec.fields)

    def query(self, system: str, where: Mapping[str, Any]) -> Query:
        terms: list[KeyTerm] = []
        members: list[str] = []
        stored: dict[str, tuple[Any, ...]] = {}
        for path, given in where.items():
            single = isinstance(given, str | bytes) or not isinstance(given, Iterable)
            values = [given] if single else list(given)
            if path in self.pattern.fields:
                texts = (key_text(v) for v in values)
                for text in dict.fromkeys(t for t in texts if t is not None):
                    fixed = {path: text}
                    terms.append(
                        KeyTerm(
                            path,
                            text,
                            self.pattern.match(fixed),
                            self.pattern.glob(fixed),
                            self.pattern.exact(fixed),
                        )
                    )
            elif path == self.member_field:
                members += [t for t in dict.fromkeys(map(key_text, values)) if t is not None]
            elif self.holds(path):
                if wanted := tuple(v for v in values if v is not None):
                    stored[path] = wanted
            else:
                raise ConnectorError(
                    system, f"{self.spec.key} has no field '{path}'", retryable=False
                )
        return Query(tuple(terms), tuple(members), stored)

    def typed(self, path: str, text: str | None, *, in_key: bool = False) -> Any:
        """Text from Redis as the dataset types the field; keys keep what rebuilds them."""
        if text is None:
            return None
        data_type = self.data_types.get(path)
        if data_type == "integer":
            try:
                number = int(text)
            except ValueError:
                return text
            return number if str(number) == text else text
        if in_key:
            return text
        if data_type == "boolean" and text.lower() in TRUE_TEXTS | FALSE_TEXTS:
            return text.lower() in TRUE_TEXTS
        if data_type == "float":
            try:
                number_float = float(text)
            except ValueError:
                return text
            return number_float if math.isfinite(number_float) else text
        return text

    def decode(self, system: str, text: str) -> dict[str, Any]:
        """A JSON string's object; a value that is not one is an error, not an empty row."""
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ConnectorError(
                system,
                f"{self.spec.key}: a key matching '{self.pattern.text}'"
                " holds a value that is not a JSON object",
                retryable=False,
            )
        return value

    def row(self, key_fields: Mapping[str, str], value: Any) -> Row:
        """The row of a key (its placeholder values) and what it holds: a hash's mapping, a
        JSON object, a plain string or a member."""
        found: dict[str, Any] = {}
        if self.kind == "hash":
            found = {name: self.typed(name, value.get(name)) for name in self.spec.top_level}
        elif self.set_like:
            assert self.member_field is not None
            found = {self.member_field: self.typed(self.member_field, value, in_key=True)}
        elif self.value_field is not None:
            found = {self.value_field: self.typed(self.value_field, value)}
        else:
            found = {name: value.get(name) for name in self.spec.top_level}
        for name, text in key_fields.items():
            found[name] = self.typed(name, text, in_key=True)
        return {name: found.get(name) for name in self.spec.top_level}

    def stored_match(self, query: Query, value: Any) -> bool:
        """Whether the held value (hash mapping, JSON object or plain text) matches a field of
        the query that lives inside it."""
        for path, wanted in query.stored.items():
            if self.kind == "hash" or self.value_field is not None:
                text = value.get(path) if self.kind == "hash" else value
                held = self.typed(path, text)
                if text is not None and any(text == key_text(w) or _same(held, w) for w in wanted):
                    return True
            elif any(_same(get_path(value, path), w) for w in wanted):
                return True
        return False
