"""A dataset file given on its own (`opendpo systems add --dataset FILE`), checked as the
policy checks its `dataset:` section: the same strict keys, categories, references and
reachability, and the same warnings for what a Fides dataset asks that OpenDPO cannot honour.

The file may be a Fides manifest (`dataset: [...]`, as Fides writes them) or one dataset.
Its datasets are checked together with the applied policy's, which they may reference and
whose datasets of the same key they replace; only problems in the file are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fideslang.models import Dataset
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from opendpo.policy.errors import PolicyInvalid, PolicyProblem
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.systems import System
from opendpo.policy.rules.context import RuleContext
from opendpo.policy.rules.dataset_keys import check_dataset_keys
from opendpo.policy.rules.datasets import check_datasets
from opendpo.policy.source import PathKey, Positions, read_policy_source
from opendpo.policy.taxonomy import vocabulary


@dataclass(frozen=True)
class DatasetFile:
    datasets: list[dict[str, Any]]  # as written, for the store
    warnings: list[PolicyProblem]


@dataclass
class _FileContext(RuleContext):
    """Reports only what concerns the file's own datasets (the first `own` of the document)."""

    own: int = 0

    def _ours(self, path: PathKey) -> bool:
        return not (path[:1] == ("dataset",) and isinstance(path[1], int) and path[1] >= self.own)

    def error(self, path: PathKey, message: str) -> None:
        if self._ours(path):
            super().error(path, message)

    def warning(self, path: PathKey, message: str) -> None:
        if self._ours(path):
            super().warning(path, message)


def read_dataset_file(path: Path, *, system: str, policy: PolicyDocument) -> DatasetFile:
    """The file's datasets and warnings; PolicyInvalid listing its errors."""
    data, positions = _read(path)
    raw = data["dataset"]
    try:
        own = [Dataset.model_validate(item) for item in raw]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PolicyInvalid([PolicyProblem(f"{path}: {where}: {first['msg']}")]) from None
    keys = [d.fides_key for d in own]
    others = [d for d in policy.dataset if d.fides_key not in keys]
    document = policy.model_copy(
        update={
            "dataset": [*own, *others],
            "systems": [
                *policy.systems,
                System.model_construct(key=system, name=system, kind="other", datasets=keys),
            ],
        }
    )
    ctx = _FileContext(
        document, positions, vocabulary(policy.taxonomy), {"dataset": raw}, own=len(own)
    )
    check_dataset_keys(ctx)
    check_datasets(ctx)
    errors = [p for p in ctx.problems if p.severity == "error"]
    if errors:
        raise PolicyInvalid(errors)
    return DatasetFile([dict(item) for item in raw], ctx.problems)


def _read(path: Path) -> tuple[dict[str, Any], Positions]:
    try:
        single = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise PolicyInvalid([PolicyProblem(f"{path}: {exc}")]) from None
    if isinstance(single, dict) and "fides_key" in single:
        # One dataset, not a manifest: checked alike, though problems cannot name a line.
        return {"dataset": [single]}, Positions()
    if not (isinstance(single, dict) and set(single) == {"dataset"}):
        raise PolicyInvalid(
            [PolicyProblem(f"{path}: expected a fideslang dataset or a `dataset:` list")]
        )
    source = read_policy_source(path)
    return source.data, source.positions
