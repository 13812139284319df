"""Placeholders in an HTTP API description: `{field}` in paths, queries, headers and bodies.

A placeholder names a dataset field (dotted for nested fields) or a connection param; `{{` and
`}}` are literal braces. In a path a value is percent-encoded. In a query or a JSON body, a
string that is exactly one placeholder takes the value as it is (a number stays a number, a
list of looked-up values stays a list); within longer text it is written out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from pydantic import JsonValue

# In an update body, the changed fields in the API's record shape (Fides: <masked_object_fields>).
CHANGED_FIELDS = "changed_fields"
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\s]+)\}|[{}]")


def template_names(template: JsonValue) -> Iterator[str]:
    """The placeholder names in a template (a string, or JSON with strings inside)."""
    if isinstance(template, str):
        for match in _TOKEN.finditer(template):
            token = match.group(0)
            if match.group(1) is not None:
                yield match.group(1)
            elif token in "{}":
                raise ValueError(f"{template!r} has an unpaired {token!r} (write {token * 2})")
    elif isinstance(template, dict):
        for item in template.values():
            yield from template_names(item)
    elif isinstance(template, list):
        for item in template:
            yield from template_names(item)


def render_text(template: str, values: Mapping[str, Any], *, in_path: bool = False) -> str:
    """The template with each placeholder replaced; KeyError names one without a value."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        text = as_text(values[name])
        return quote(text, safe="") if in_path else text

    return _TOKEN.sub(replace, template)


def whole_placeholder(template: object) -> str | None:
    """The name, where the template is exactly one placeholder (its value keeps its type)."""
    if not isinstance(template, str):
        return None
    whole = _TOKEN.fullmatch(template)
    return whole.group(1) if whole is not None else None


def render_json(template: JsonValue, values: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        name = whole_placeholder(template)
        return values[name] if name is not None else render_text(template, values)
    if isinstance(template, dict):
        return {key: render_json(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [render_json(item, values) for item in template]
    return template


def as_text(value: Any) -> str:
    """A value as it goes into a path or query: JSON's spelling of booleans, 2.0 as 2."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
