"""The Connect IB policy and its datasets, as the package and report tests read them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from opendpo.connectors.base import CollectionSpec, dataset_specs
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument

ROOT = Path(__file__).resolve().parents[2]


@cache
def connect_ib() -> PolicyDocument:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document


def collections(policy: PolicyDocument) -> list[tuple[str, CollectionSpec]]:
    """(system key, collection) for every collection of every system's datasets."""
    system_of = {dataset: system.key for system in policy.systems for dataset in system.datasets}
    return [
        (system_of[dataset.fides_key], spec)
        for dataset in policy.dataset
        for spec in dataset_specs(dataset)
    ]
