"""Fixtures for writing minimal.yaml with one defect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from policy_edits import Edit, edited


@pytest.fixture
def minimal_text(minimal_policy: Path) -> str:
    return minimal_policy.read_text(encoding="utf-8")


@pytest.fixture
def broken(tmp_path: Path, minimal_text: str) -> Callable[..., Path]:
    """Write minimal.yaml with the given edits to a fresh file and return its path."""

    def write(*edits: Edit, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(edited(minimal_text, *edits), encoding="utf-8")
        return path

    return write
