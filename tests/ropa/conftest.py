"""Fixtures for the records of processing: a richer policy, fixed times, the CLI on a store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from opendpo.cli import cli
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.ropa.build import build_records
from opendpo.policy.ropa.records import RecordsOfProcessing
from opendpo.settings import Settings

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
def opendpo(settings: Settings) -> Callable[..., Result]:
    """Invoke `opendpo ARGS...` in-process with OPENDPO_* pointing at this test's store."""
    runner = CliRunner(
        env={
            "OPENDPO_DATABASE_URL": settings.database_url,
            "OPENDPO_SECRET_KEY": settings.secret_key.get_secret_value(),
            "OPENDPO_DEMO": None,
        }
    )

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args))

    return invoke
