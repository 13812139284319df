"""docs/execution.md stays true: every `opendpo` command line in it parses against the real
CLI, every connector setting its tables name is a field of that connector's config model, and
its connection and dataset examples load."""

from __future__ import annotations

import re
import shlex
import types
import typing
from pathlib import Path
from typing import Any

import click
import pytest
from fideslang.models import Dataset
from pydantic import BaseModel
from ruamel.yaml import YAML

from opendpo.cli import cli
from opendpo.connectors.http_spec import HttpConnection
from opendpo.connectors.manual import ManualConnection
from opendpo.connectors.processor_email import ProcessorEmailConnection
from opendpo.connectors.redis_keys import RedisConnection
from opendpo.connectors.registry import KINDS, parse_connection
from opendpo.connectors.sql import SqlConnection
from opendpo.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "execution.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#+ .*$", re.MULTILINE)
CONNECTION_TYPE = re.compile(r"`type: (\w+)`")
MODELS: dict[str, type[BaseModel]] = {
    "sql": SqlConnection,
    "redis": RedisConnection,
    "http": HttpConnection,
    "email": ProcessorEmailConnection,
    "manual": ManualConnection,
}


def text() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks(*languages: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text()) if lang in languages]


# --- command lines ------------------------------------------------------------------------


def command_lines() -> list[str]:
    """Every `opendpo ...` line of the shell and console blocks, continuations joined."""
    found = []
    for body in blocks("console", "shell", "sh"):
        joined = body.replace("\\\n", " ")
        for raw in joined.splitlines():
            line = raw.strip().removeprefix("$ ")
            if not line or line.startswith("#"):
                continue
            tokens = shlex.split(line, comments=True)
            while tokens and re.fullmatch(r"[A-Z_]+=\S*", tokens[0]):
                tokens.pop(0)  # VAR=value before the command
            if tokens and tokens[0].endswith("opendpo"):
                found.append(shlex.join(["opendpo", *tokens[1:]]))
    return found


def problem_with(line: str) -> str | None:
    """What is wrong with `line` parsed as click would, without running it (unknown commands
    and options, bad choices, missing or extra arguments), or None."""
    args = shlex.split(line)[1:]
    command: click.Command = cli
    context = click.Context(cli, info_name="opendpo")
    while isinstance(command, click.Group):
        if not args:
            return f"`{context.command_path}` is a group, not a command"
        name = args.pop(0)
        found = command.get_command(context, name)
        if found is None:
            return f"no command '{name}' in `{context.command_path}`"
        command = found
        context = click.Context(command, info_name=name, parent=context)
    try:
        values, extra, _ = command.make_parser(context).parse_args(args=list(args))
    except click.UsageError as exc:
        return exc.format_message()
    if extra:
        return f"unexpected arguments {extra}"
    for param in command.params:
        value = values.get(param.name) if param.name else None
        if not isinstance(value, str | list | tuple | bool | int):
            value = None  # not given (click marks it with a sentinel of its own)
        if param.required and value in (None, ()):
            return f"{param.get_error_hint(context)} is missing"
        if value is None or not isinstance(param.type, click.Choice):
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            try:
                param.type.convert(item, param, context)
            except click.BadParameter as exc:
                return exc.format_message()
    return None


def test_the_doc_shows_the_commands_it_explains() -> None:
    shown = {" ".join(line.split()[:3]) for line in command_lines()}
    for expected in (
        "opendpo systems add",
        "opendpo systems test",
        "opendpo systems list",
        "opendpo systems discover",
        "opendpo requests submit",
        "opendpo requests run",
        "opendpo requests steps",
        "opendpo requests answer",
        "opendpo demo estate",
    ):
        assert expected in shown


@pytest.mark.parametrize("line", command_lines())
def test_command_line_parses(line: str) -> None:
    assert problem_with(line) is None, line


@pytest.mark.parametrize(
    "line",
    [
        "opendpo systems plug crm",
        "opendpo systems add crm --uri sqlite:///crm.db",
        "opendpo requests submit --kind deletion --identity email=a@example.com",
        "opendpo requests steps",
        "opendpo systems test crm billing",
        "opendpo requests answer R-1 3 --done --note",
    ],
)
def test_a_wrong_command_line_is_caught(line: str) -> None:
    assert problem_with(line) is not None


# --- connector settings -------------------------------------------------------------------


def option_tables() -> list[tuple[str, str, list[str]]]:
    """(connection type, prefix, setting paths) for each table whose header's first cell is
    `type: X` (the block's own settings) or `under \\`path\\``, in a section about type X."""
    tables = []
    doc = text()
    for match in re.finditer(
        r"^\| (?P<head>[^|]+) \|.*\n\|[-|]+\|\n(?P<rows>(?:\|.*\n)+)", doc, re.M
    ):
        head = match["head"].strip()
        own = CONNECTION_TYPE.fullmatch(head)
        under = re.fullmatch(r"under `([^`]+)`", head)
        if own is None and under is None:
            continue
        headings = HEADING.findall(doc[: match.start()])
        kinds = [m for h in headings if (m := CONNECTION_TYPE.search(h))]
        assert kinds, f"the table '{head}' is not in a section about a connection type"
        kind = own[1] if own else kinds[-1][1]
        prefix = under[1] if under else ""
        names = []
        for row in match["rows"].splitlines():
            cell = row.split("|")[1]
            names += re.findall(r"`([^`]+)`", cell)
        tables.append((kind, prefix, names))
    return tables


def models_in(annotation: Any) -> list[Any]:
    """The types an annotation may hold: unions and Optional opened, Annotated unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in models_in(arg)]
    return [annotation]


def resolves(model: Any, parts: list[str]) -> bool:
    """Whether the dotted setting `parts` exists under `model`: NAME stands for a key of a
    mapping, and a list's items are stepped into without naming them."""
    if not parts:
        return True
    for candidate in models_in(model):
        origin = typing.get_origin(candidate)
        if origin in (list, tuple):
            if resolves(typing.get_args(candidate)[0], parts):
                return True
        elif origin is dict:
            if parts[0] == "NAME" and resolves(typing.get_args(candidate)[1], parts[1:]):
                return True
        elif isinstance(candidate, type) and issubclass(candidate, BaseModel):
            field = candidate.model_fields.get(parts[0])
            if field is not None and resolves(field.annotation, parts[1:]):
                return True
    return False


def test_the_tables_cover_every_connection_type() -> None:
    assert {kind for kind, _, _ in option_tables()} == set(KINDS) == set(MODELS)


@pytest.mark.parametrize(("kind", "prefix", "names"), option_tables())
def test_every_setting_named_is_a_field_of_its_connector(
    kind: str, prefix: str, names: list[str]
) -> None:
    model = MODELS[kind]
    assert names
    missing = [
        name
        for name in names
        if not resolves(model, [*filter(None, prefix.split(".")), *name.split(".")])
    ]
    assert missing == [], f"{kind}: not settings of {model.__name__}: {missing}"


def test_the_settings_check_finds_a_setting_that_does_not_exist() -> None:
    paging = ["collections", "NAME", "read", "pagination"]
    assert resolves(HttpConnection, [*paging, "cursor_path"])
    assert not resolves(HttpConnection, [*paging, "cursor"])
    assert not resolves(HttpConnection, ["collections", "contacts", "read"])
    assert not resolves(SqlConnection, ["password"])


def test_the_tables_name_every_setting_of_the_simple_connectors() -> None:
    named = {(kind, prefix): set(names) for kind, prefix, names in option_tables()}
    for kind in ("sql", "email", "manual"):
        fields = set(MODELS[kind].model_fields) - {"type"}
        assert fields <= named[(kind, "")], kind


# --- examples and settings ----------------------------------------------------------------


def yaml_examples() -> list[Any]:
    return [YAML(typ="safe").load(body) for body in blocks("yaml")]


def test_connection_examples_are_valid_connections() -> None:
    seen = []
    for data in yaml_examples():
        if isinstance(data, dict) and "type" in data:
            seen.append(parse_connection(data))
        for system in data.get("systems", []) if isinstance(data, dict) else []:
            seen.append(parse_connection(system["connection"]))
    assert {type(config).__name__ for config in seen} >= {
        "SqlConnection",
        "RedisConnection",
        "HttpConnection",
    }


def test_dataset_examples_are_fideslang_datasets() -> None:
    datasets = [
        Dataset.model_validate(data)
        for data in yaml_examples()
        if isinstance(data, dict) and "fides_key" in data
    ]
    assert datasets


def test_settings_named_exist() -> None:
    named = set(re.findall(r"OPENDPO_([A-Z_]+)", text()))
    assert named
    unknown = {name for name in named if name.lower() not in Settings.model_fields}
    assert unknown == set()
