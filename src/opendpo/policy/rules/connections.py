"""Connections declared in the policy: valid for their type, and holding no secret.

A policy is kept in version control and shown to staff, so a password or token written in
it would leak; each secret is named by an environment variable instead (`url_env`), or the
system is connected with `opendpo systems add`, which keeps secrets encrypted in the store.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from opendpo.connectors.registry import parse_connection
from opendpo.errors import InvalidValue
from opendpo.policy.rules.context import RuleContext
from opendpo.policy.source import PathKey


def check_connections(ctx: RuleContext) -> None:
    for i, system in enumerate(ctx.document.systems):
        if system.connection is None:
            continue
        at: PathKey = ("systems", i, "connection")
        try:
            config = parse_connection(system.connection, field="connection")
        except InvalidValue as exc:
            parts = exc.field.split(".")[1:]
            path = (*at, *(int(p) if p.isdigit() else p for p in parts))
            ctx.error(path, exc.detail)
            continue
        for path, name in _written_secrets(config, at):
            ctx.error(
                path,
                f"a secret must not be written in the policy: name an environment variable "
                f"with '{name}_env', or connect the system with `opendpo systems add`",
            )


def _written_secrets(model: BaseModel, at: PathKey) -> list[tuple[PathKey, str]]:
    found: list[tuple[PathKey, str]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            if name == "url" and not _has_password(value.get_secret_value()):
                continue  # a URL without a password (a SQLite file, trust auth) is no secret
            found.append(((*at, name), name))
        elif isinstance(value, BaseModel):
            found.extend(_written_secrets(value, (*at, name)))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    found.extend(_written_secrets(item, (*at, name, key)))
    return found


def _has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except ArgumentError:
        return "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]
