"""Reading policy YAML from a file or folder, remembering where every value was written."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from opendpo.policy.errors import Location, PolicyInvalid, PolicyProblem
from opendpo.policy.model.document import LIST_SECTIONS, SINGLE_SECTIONS

PathKey = tuple[str | int, ...]
POLICY_SUFFIXES = (".yaml", ".yml")
_UNREADABLE = object()
_DUPLICATE = re.compile(r'found duplicate key "(.+?)" with value')


@dataclass
class Positions:
    """Where each value (and each mapping key) of the merged document came from."""

    values: dict[PathKey, Location] = field(default_factory=dict)
    keys: dict[PathKey, Location] = field(default_factory=dict)

    def locate(self, path: PathKey, *, at_key: bool = False) -> Location | None:
        """The location of `path`, or of its nearest ancestor that was written down."""
        if at_key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None


@dataclass
class PolicySource:
    """The merged plain data of every file, with positions and the file list."""

    data: dict[str, Any]
    positions: Positions
    files: list[Path]


def policy_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in POLICY_SUFFIXES and p.is_file())
    return [path]


def read_policy_source(path: Path) -> PolicySource:
    """Parse and merge the YAML at `path`; raise PolicyInvalid naming every file-level error."""
    if not path.exists():
        raise PolicyInvalid([PolicyProblem(f"{path}: no such file or folder")])
    files = policy_files(path)
    if not files:
        raise PolicyInvalid([PolicyProblem(f"{path}: no .yaml or .yml files in this folder")])
    merged: dict[str, Any] = {}
    positions = Positions()
    problems: list[PolicyProblem] = []
    for file in files:
        _merge_file(file, merged, positions, problems)
    if problems:
        raise PolicyInvalid(problems)
    return PolicySource(data=merged, positions=positions, files=files)


def _parse(file: Path, problems: list[PolicyProblem]) -> Any:
    yaml = YAML(typ="rt")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        problems.append(PolicyProblem(f"cannot read file: {exc}", Location(str(file), 1, 1)))
        return _UNREADABLE
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(_not_utf8(file, raw, exc))
        return _UNREADABLE
    try:
        return yaml.load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        # ruamel words it 'found duplicate key "town" with value ...'; name the key if we can.
        named = _DUPLICATE.match(exc.problem or "")
        what = f"duplicate key '{named.group(1)}'" if named else "duplicate key"
        problems.append(
            PolicyProblem(f"{what}: each key may appear once", Location(str(file), line, col))
        )
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "invalid YAML"
        problems.append(PolicyProblem(f"invalid YAML: {reason}", Location(str(file), line, col)))
    except YAMLError as exc:
        problems.append(PolicyProblem(f"invalid YAML: {exc}", Location(str(file), 1, 1)))
    return _UNREADABLE


def _not_utf8(file: Path, raw: bytes, exc: UnicodeDecodeError) -> PolicyProblem:
    """Point at the first byte that is not UTF-8, counting lines and columns as an editor does."""
    before = raw[: exc.start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
    byte = raw[exc.start]
    return PolicyProblem(
        f"the file is not UTF-8 text (byte 0x{byte:02x} cannot be decoded): save it as UTF-8",
        Location(str(file), line, column),
    )


def _merge_file(
    file: Path, merged: dict[str, Any], positions: Positions, problems: list[PolicyProblem]
) -> None:
    root = _parse(file, problems)
    if root is _UNREADABLE:
        return
    if root is None:
        problems.append(PolicyProblem("the file is empty", Location(str(file), 1, 1)))
        return
    name = str(file)
    if not isinstance(root, CommentedMap):
        problems.append(
            PolicyProblem("the top level must be a mapping of sections", Location(name, 1, 1))
        )
        return
    for key in root:
        key_at = _key_location(name, root, key)
        value_at = _value_location(name, root, key)
        value = root[key]
        if key in LIST_SECTIONS:
            if not isinstance(value, CommentedSeq):
                # An empty value has no position of its own; ruamel reports the next line.
                at = key_at if value is None else value_at
                problems.append(PolicyProblem(f"'{key}' must be a list", at))
                continue
            existing = merged.setdefault(key, [])
            if (key,) not in positions.values:
                positions.values[(key,)] = value_at
                positions.keys[(key,)] = key_at
            offset = len(existing)
            for index, item in enumerate(value):
                existing.append(_plain(item))
                _record(name, value, index, (key, offset + index), positions)
        elif key in SINGLE_SECTIONS:
            if key in merged:
                first = positions.keys[(key,)]
                problems.append(PolicyProblem(f"'{key}' is already declared at {first}", key_at))
                continue
            merged[key] = _plain(value)
            positions.keys[(key,)] = key_at
            positions.values[(key,)] = value_at
            _walk(name, value, (key,), positions)
        else:
            known = ", ".join(sorted(SINGLE_SECTIONS + LIST_SECTIONS))
            problems.append(
                PolicyProblem(f"unknown section '{key}' (known sections: {known})", key_at)
            )


def _key_location(file: str, mapping: CommentedMap, key: Any) -> Location:
    line, col = mapping.lc.key(key)
    return Location(file, line + 1, col + 1)


def _value_location(file: str, mapping: CommentedMap, key: Any) -> Location:
    line, col = mapping.lc.value(key)
    return Location(file, line + 1, col + 1)


def _record(file: str, seq: CommentedSeq, index: int, path: PathKey, pos: Positions) -> None:
    line, col = seq.lc.item(index)
    pos.values[path] = Location(file, line + 1, col + 1)
    _walk(file, seq[index], path, pos)


def _walk(file: str, node: Any, path: PathKey, pos: Positions) -> None:
    if isinstance(node, CommentedMap):
        for key in node:
            child = (*path, str(key))
            pos.keys[child] = _key_location(file, node, key)
            pos.values[child] = _value_location(file, node, key)
            _walk(file, node[key], child, pos)
    elif isinstance(node, CommentedSeq):
        for index in range(len(node)):
            _record(file, node, index, (*path, index), pos)


def _plain(node: Any) -> Any:
    """ruamel's round-trip types (ScalarFloat, TimeStamp ...) as plain Python values."""
    if isinstance(node, CommentedMap):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.datetime):
        return dt.datetime(*node.timetuple()[:6], tzinfo=node.tzinfo)
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    return node
