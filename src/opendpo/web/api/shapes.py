"""Shapes several API resources share: a list envelope and a named taxonomy term."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from pydantic import BaseModel

from opendpo.policy.wording import humanise_category

Item = TypeVar("Item")


class ItemList(BaseModel, Generic[Item]):
    """Lists come wrapped, so that paging can be added without breaking clients."""

    items: list[Item]


class Term(BaseModel):
    key: str
    name: str


def terms(keys: Iterable[str], names: Mapping[str, str]) -> list[Term]:
    return [Term(key=key, name=humanise_category(names.get(key, key))) for key in keys]


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive timestamps; the store writes them in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
