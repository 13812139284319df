"""Fixtures for the demo estate tests: Connect IB's datasets, and a place to build."""

from __future__ import annotations

from pathlib import Path

import pytest
from fideslang.models import Dataset

from opendpo.demo.estate import default_estate_urls
from opendpo.policy.loader import load_policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def connect_ib_datasets() -> list[Dataset]:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document.dataset


@pytest.fixture
def sqlite_urls(tmp_path: Path) -> dict[str, str]:
    return default_estate_urls(tmp_path / "var")
