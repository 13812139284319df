"""The shapes of an access report: what the request found, and each fact the report states.

`report.build_report` derives a `ReportFacts` from the policy and what was found; the
template renders it as it stands, so a test can check every fact without reading HTML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class FoundCollection:
    """What a request found in one collection: its data categories, and how many records."""

    system: str
    dataset: str
    collection: str
    categories: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class RequestFacts:
    reference: str
    received_at: dt.datetime
    identities: tuple[tuple[str, str], ...]  # (kind, value), shown masked


@dataclass(frozen=True)
class Holding:
    system: str
    collection: str
    rows: int
    categories: tuple[str, ...]


@dataclass(frozen=True)
class PurposeFact:
    name: str
    description: str
    lawful_basis: str  # "Contract (Art 6(1)(b))"
    basis_explained: str
    interest: str | None  # the legitimate interest pursued, where that is the basis
    categories: tuple[str, ...]  # the categories found that it uses
    systems: tuple[str, ...]


@dataclass(frozen=True)
class RecipientFact:
    name: str
    kind: str
    role: str
    circumstances: str | None
    transfer: str | None  # "the United States, protected by ..." when outside the UK
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class RetentionFact:
    name: str
    period: str
    starts: str
    action: str
    legal_reason: str | None
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class SourceFact:
    purpose: str
    kind: str
    description: str | None
    party: str | None


@dataclass(frozen=True)
class Route:
    text: str
    href: str | None


@dataclass(frozen=True)
class RightFact:
    key: str
    name: str
    description: str
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class ReportFacts:
    language: str
    controller: str
    reference: str
    received_on: dt.date
    generated_on: dt.date
    identities: tuple[str, ...]
    holdings: tuple[Holding, ...]
    purposes: tuple[PurposeFact, ...]
    recipients: tuple[RecipientFact, ...]
    retention: tuple[RetentionFact, ...]
    without_retention: tuple[str, ...]  # purposes found for which the policy sets no period
    sources: tuple[SourceFact, ...]
    automated_decisions: bool
    rights: tuple[RightFact, ...]
    portability_rule: str
    complaint_routes: tuple[Route, ...]
    complaint_days: int
    authority: str
    authority_url: str
    authority_phone: str | None
    dpo_name: str
    dpo_email: str
    dpo_phone: str | None
    dpo_post: str

    @property
    def total_rows(self) -> int:
        return sum(h.rows for h in self.holdings)
