"""The Jinja2 environment pages render with: autoescaped, strict, with plain-word filters."""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from opendpo import __version__
from opendpo.policy import wording
from opendpo.policy.model.base import describe_duration
from opendpo.policy.model.purposes import LAWFUL_BASIS_NAMES
from opendpo.policy.taxonomy import Vocabulary
from opendpo.security.roles import Permission
from opendpo.web.assets import asset_path
from opendpo.web.auth import Auth

TEMPLATES_DIR = Path(__file__).with_name("templates")


def _vocabulary(context: Context) -> Vocabulary:
    vocabulary = context.get("vocabulary")
    if not isinstance(vocabulary, Vocabulary):
        raise TypeError("this template needs a `vocabulary` in its context")
    return vocabulary


@pass_context
def category_name(context: Context, key: str) -> str:
    name = _vocabulary(context).data_categories.get(key, key)
    return wording.humanise_category(name)


@pass_context
def data_use_name(context: Context, key: str) -> str:
    return _vocabulary(context).data_uses.get(key, key)


def long_date(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


def date_time(value: dt.datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive timestamps; the store writes UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%d %b %Y, %H:%M UTC")


def duration(value: str) -> str:
    return "until you close your browser" if value == "session" else describe_duration(value)


def current_auth(request: Request) -> Auth | None:
    """Who the page is for (set by Permit), or None on pages that asked nobody."""
    auth = getattr(request.state, "opendpo_auth", None)
    return auth if isinstance(auth, Auth) else None


def can(request: Request, permission: str) -> bool:
    auth = current_auth(request)
    return auth is not None and auth.principal.can(Permission(permission))


def make_templates() -> Jinja2Templates:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the test suite, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Any] = {
        "category": category_name,
        "data_use": data_use_name,
        "lawful_basis": partial(wording.word, wording.LAWFUL_BASIS),
        "lawful_basis_name": partial(wording.word, LAWFUL_BASIS_NAMES),
        "recipient_kind": partial(wording.word, wording.RECIPIENT_KIND),
        "role": partial(wording.word, wording.ROLE),
        "transfer_mechanism": partial(wording.word, wording.TRANSFER_MECHANISM),
        "cookie_consent": partial(wording.word, wording.COOKIE_CONSENT),
        "country": wording.country_name,
        "retention": wording.describe_retention,
        "duration": duration,
        "long_date": long_date,
        "date_time": date_time,
    }
    environment.filters.update(filters)
    environment.globals.update(
        {
            "asset": asset_path,
            "opendpo_version": __version__,
            "current_auth": current_auth,
            "can": can,
        }
    )
    return Jinja2Templates(env=environment)
