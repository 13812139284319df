"""The notice itself: versions, the rights it grants, and the cookies it describes."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Literal

from pydantic import Field

from opendpo.policy.model.base import Duration, Key, Keyed, StrictModel, Text


class NoticeChange(StrictModel):
    version: Text
    date: dt.date
    summary: Text
    material: bool = Field(
        default=False, description="True when people must be told or asked again."
    )
    purposes: list[Key] = Field(default=[], description="Purposes the change affects.")


class Notice(StrictModel):
    title: Text
    version: Text
    effective_date: dt.date
    language: Text = "en-GB"
    url: Text | None = None
    introduction: Text
    sells_personal_data: bool = False
    third_party_links: Text | None = None
    changes_policy: Text = Field(description="How changes to the notice are announced.")
    changes: list[NoticeChange] = Field(min_length=1)


RightKey = Literal[
    "informed",
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "automated_decision_review",
]
ALL_RIGHTS: tuple[str, ...] = typing.get_args(RightKey)


class Right(StrictModel):
    key: RightKey
    name: Text
    description: Text
    routes: list[Key] = Field(min_length=1, description="Contact routes that accept it.")


class Complaints(StrictModel):
    routes: list[Key] = Field(min_length=1)
    acknowledge_within_days: int = Field(default=30, ge=1, le=30)


class Rights(StrictModel):
    available: list[Right] = Field(min_length=1)
    update_working_days: int = Field(
        default=10, ge=1, description="Promise: personal data updated within this many days."
    )
    automated_decision_making: bool = False
    complaints: Complaints


CookieCategoryKey = Literal["strictly_necessary", "analytics", "functional", "advertising"]
CONSENT_NEEDED_FOR: frozenset[str] = frozenset({"functional", "advertising"})
AnalyticsMeasure = Literal["visits", "unique_visitors", "section_visits", "referrers"]


class CookieCategory(StrictModel):
    key: CookieCategoryKey
    name: Text
    description: Text
    consent: Literal["not_required", "objection", "required"] = Field(
        description="not_required: strictly necessary; objection: the PECR analytics exception "
        "(clear information and a free way to object); required: opt-in first."
    )
    purposes: list[Key] = []
    measures: list[AnalyticsMeasure] = Field(
        default=[],
        description="What the category's cookies let the website count, as the notice says "
        "(unique_visitors: distinct users over a period; section_visits: visits per section).",
    )


class Cookie(StrictModel):
    name: Text
    category: CookieCategoryKey
    provider: Text
    purpose: Text
    duration: Duration | Literal["session"]


class Cookies(StrictModel):
    honour_global_privacy_control: bool = True
    categories: list[CookieCategory] = Field(min_length=1)
    cookies: list[Cookie] = []


class CategoryExtension(Keyed):
    parent: Key
    special_category: bool = Field(default=False, description="An Art 9 special category.")


class UseExtension(Keyed):
    parent: Key


class SubjectExtension(Keyed):
    pass


class Taxonomy(StrictModel):
    """Custom additions to the fideslang default taxonomy."""

    data_categories: list[CategoryExtension] = []
    data_uses: list[UseExtension] = []
    data_subjects: list[SubjectExtension] = []
