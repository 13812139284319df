"""Fixtures for the records of processing: a richer policy, fixed times, the CLI on a store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.ropa.build import build_records
from opendpo.policy.ropa.records import RecordsOfProcessing

GENERATED_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
RICH_POLICY = Path(__file__).resolve().parent / "rich.yaml"


@pytest.fixture
def rich_policy() -> Path:
    return RICH_POLICY


@pytest.fixture
def rich_document() -> PolicyDocument:
    return load_policy(RICH_POLICY).document


@pytest.fixture
def rich_records(rich_document: PolicyDocument) -> RecordsOfProcessing:
    return build_records(rich_document, policy_version=3, generated_at=GENERATED_AT)


@pytest.fixture
def opendpo(run: Callable[..., Result]) -> Callable[..., Result]:
    """The suite's CLI runner (tests/conftest.py), under the name these tests read best with."""
    return run
