"""What keys the policy schema accepts where: for did-you-mean hints and strict datasets."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.source import PathKey


def display_path(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def allowed_keys(path: PathKey) -> list[str]:
    """The keys the schema accepts at `path`, for suggestions after a typo."""
    annotation: Any = PolicyDocument
    for part in path:
        annotation = unwrap(annotation)
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else Any
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return []
            annotation = field.annotation
        else:
            return []
    annotation = unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def unwrap(annotation: Any) -> Any:
    """Optional[X] -> X, so lookups see the model inside."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def unknown_key_message(path: PathKey) -> str:
    """ "unknown key 'x' in purposes[2] (did you mean 'y'?)" for the key at `path`."""
    parent, name = path[:-1], str(path[-1])
    message = f"unknown key '{name}' in {display_path(parent) or 'the policy'}"
    allowed = allowed_keys(parent)
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    elif allowed:
        message += f" (allowed: {', '.join(allowed)})"
    return message
