"""Fixtures for the rights tests: the company's policy, and what letters need."""

from __future__ import annotations

from pathlib import Path

import pytest

from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.letters import LetterContext
from opendpo.security.links import LinkSigner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def policy() -> PolicyDocument:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document


@pytest.fixture
def letters(policy: PolicyDocument) -> LetterContext:
    return LetterContext(policy, LinkSigner("s" * 40), "https://privacy.example.com")
