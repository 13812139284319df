"""Loading a policy: YAML, then schema, then the rules; every problem located in its file."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opendpo.policy.errors import PolicyInvalid, PolicyProblem
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.rules import check_rules
from opendpo.policy.schema_keys import allowed_keys, display_path, unknown_key_message
from opendpo.policy.source import PathKey, PolicySource, Positions, read_policy_source


@dataclass(frozen=True)
class LoadedPolicy:
    document: PolicyDocument
    files: list[Path]
    warnings: list[PolicyProblem]


def load_policy(path: Path) -> LoadedPolicy:
    """Read, validate and check the policy at `path` (a file or a folder of YAML files)."""
    source = read_policy_source(path)
    document = _validate_schema(source)
    problems = check_rules(document, source)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PolicyInvalid(errors)
    document = _anchor_spec_files(document, path if path.is_dir() else path.parent)
    return LoadedPolicy(document, source.files, [p for p in problems if p.severity == "warning"])


def _anchor_spec_files(document: PolicyDocument, folder: Path) -> PolicyDocument:
    """A connection's `spec_file` is written relative to the policy's folder; the stored
    policy holds it absolute, so workers started anywhere find it."""
    systems = []
    for system in document.systems:
        spec_file = (system.connection or {}).get("spec_file")
        if isinstance(spec_file, str) and not Path(spec_file).is_absolute():
            anchored = {
                **(system.connection or {}),
                "spec_file": str((folder / spec_file).resolve()),
            }
            system = system.model_copy(update={"connection": anchored})
        systems.append(system)
    return document.model_copy(update={"systems": systems})


def _validate_schema(source: PolicySource) -> PolicyDocument:
    try:
        return PolicyDocument.model_validate(source.data)
    except ValidationError as exc:
        errors = exc.errors()
        misspelt = _misspelt_keys(errors)
        problems = [
            _schema_problem(error, source)
            for error in errors
            # A misspelt required key is one mistake: report the typo, not also the absence.
            if not (error["type"] == "missing" and tuple(error["loc"]) in misspelt)
        ]
        raise PolicyInvalid(_dedupe(problems)) from None


def _misspelt_keys(errors: list[Any]) -> set[tuple[Any, ...]]:
    """The loc of each key an unknown key is a close misspelling of."""
    found: set[tuple[Any, ...]] = set()
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            parent = loc[:-1]
            for close in difflib.get_close_matches(str(loc[-1]), allowed_keys(parent), n=1):
                found.add((*parent, close))
    return found


def _dedupe(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    seen: set[tuple[object, str]] = set()
    unique = []
    for problem in problems:
        marker = (problem.location, problem.message)
        if marker not in seen:
            seen.add(marker)
            unique.append(problem)
    return unique


def _schema_problem(error: Any, source: PolicySource) -> PolicyProblem:
    path = _document_path(tuple(error["loc"]), source.positions)
    label = display_path(path)
    kind = error["type"]
    if kind == "extra_forbidden":
        message = unknown_key_message(path)
        return PolicyProblem(message, source.positions.locate(path, at_key=True))
    if kind == "missing":
        return PolicyProblem(
            f"missing required key '{path[-1]}' in {display_path(path[:-1]) or 'the policy'}",
            source.positions.locate(path[:-1]),
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    return PolicyProblem(f"{label}: {message}", source.positions.locate(path))


def _document_path(loc: tuple[Any, ...], positions: Positions) -> PathKey:
    """Drop pydantic's union-branch labels (e.g. "literal['session']") from an error's loc."""
    path: list[str | int] = []
    for part in loc:
        candidate = (*path, part)
        if (
            isinstance(part, str)
            and ("[" in part or "-" in part)
            and candidate not in (positions.values)
        ):
            continue
        path.append(part)
    return tuple(path)
