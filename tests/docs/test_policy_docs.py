"""docs/policy.md stays true: its complete policies load, its example errors can happen."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from opendpo.policy import rules
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import LIST_SECTIONS, SINGLE_SECTIONS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "policy.md"
POLICY_CODE = ROOT / "src" / "opendpo" / "policy"
# A yaml block whose first line is this comment is a whole policy and must load as it is.
COMPLETE = "# complete policy"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EXAMPLE_ERROR = re.compile(r"^\S+\.ya?ml:\d+:\d+: (?:warning: )?(?P<message>.+)$")


def blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return [body for lang, body in FENCE.findall(text) if lang == language]


def complete_policies() -> list[str]:
    return [body for body in blocks("yaml") if body.startswith(COMPLETE + "\n")]


def example_messages() -> list[str]:
    messages = []
    for body in blocks("text"):
        for line in body.splitlines():
            match = EXAMPLE_ERROR.match(line)
            if match:
                messages.append(match["message"])
    return messages


@cache
def message_patterns(source: Path) -> list[re.Pattern[str]]:
    """Every string literal in `source` as a pattern: f-string holes match any text."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    # The pieces of an f-string are Constant nodes too; only whole literals count.
    strings = [node for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)]
    pieces = {id(part) for node in strings for part in node.values}
    patterns = []
    for node in ast.walk(tree):
        if id(node) in pieces:
            continue
        if isinstance(node, ast.JoinedStr):
            parts = [
                re.escape(part.value)
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
                else ".+"
                for part in node.values
            ]
            patterns.append(re.compile("".join(parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
            patterns.append(re.compile(re.escape(node.value)))
    return patterns


def emitted_by(message: str, sources: list[Path]) -> list[Path]:
    """The modules holding a literal that produces `message` (whole, or its leading part)."""
    found = []
    for source in sources:
        for pattern in message_patterns(source):
            # Long literals must match the whole message or its start: a message may be built
            # from a literal plus a suffix (e.g. a did-you-mean hint).
            if len(pattern.pattern) >= 12 and pattern.match(message):
                found.append(source)
                break
    return found


def test_the_doc_has_a_complete_policy() -> None:
    assert complete_policies(), f"no ```yaml block in {DOC.name} starts with {COMPLETE!r}"


@pytest.mark.parametrize("index", range(len(complete_policies())))
def test_complete_policies_load(index: int, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(complete_policies()[index], encoding="utf-8")
    loaded = load_policy(path)
    assert loaded.warnings == []


def test_every_example_error_is_one_the_checker_can_give() -> None:
    sources = sorted(POLICY_CODE.rglob("*.py"))
    messages = example_messages()
    assert len(messages) >= 20
    unknown = [message for message in messages if not emitted_by(message, sources)]
    assert unknown == [], "docs/policy.md shows errors no code produces"


def test_every_rule_module_has_an_example() -> None:
    messages = example_messages()
    modules = sorted(Path(rules.__file__).parent.glob("*.py"))
    for module in modules:
        if module.stem in ("__init__", "context"):
            continue
        assert any(emitted_by(message, [module]) for message in messages), (
            f"docs/policy.md has no example error from policy/rules/{module.name}"
        )


def test_every_section_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for section in (*SINGLE_SECTIONS, *LIST_SECTIONS):
        assert f"### `{section}`" in text, f"docs/policy.md does not describe `{section}`"
