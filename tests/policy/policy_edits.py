"""Broken policies made by editing minimal.yaml's text, and the located errors they give."""

from __future__ import annotations

from pathlib import Path

import pytest

from opendpo.policy.errors import PolicyInvalid
from opendpo.policy.loader import load_policy

Edit = tuple[str, str]


def edited(text: str, *edits: Edit) -> str:
    """`text` with each exact snippet replaced; a snippet that is not there exactly once fails."""
    for old, new in edits:
        count = text.count(old)
        assert count == 1, f"expected the snippet once, found it {count} times: {old!r}"
        text = text.replace(old, new)
    return text


def where(path: Path, snippet: str, token: str | None = None) -> str:
    """`file:line:col` of `token` (default: the snippet's first non-blank) inside the unique
    `snippet` of the file at `path`, counted as an editor counts (both from 1)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(snippet) == 1, f"snippet must occur once in {path}: {snippet!r}"
    start = text.index(snippet)
    if token is None:
        offset = len(snippet) - len(snippet.lstrip(" -\n"))
    else:
        assert token in snippet, f"{token!r} is not in {snippet!r}"
        offset = snippet.index(token)
    position = start + offset
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"{path}:{line}:{column}"


def problems(path: Path) -> list[str]:
    """Every error the checker reports for `path`, as printed; fails if the policy loads."""
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(path)
    return [str(problem) for problem in caught.value.problems]
