"""The records of processing activities (UK GDPR Art 30(1)) as plain, immutable data.

Every exporter reads these records and nothing else, so the CSV, spreadsheet, web page,
JSON and JSON-LD always say the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Named:
    """A key from the policy or the fideslang taxonomy, with its human name."""

    key: str
    name: str


@dataclass(frozen=True)
class DataCategory:
    key: str
    name: str
    special: bool  # an Art 9 special category or Art 10 criminal offence data


@dataclass(frozen=True)
class DataSubjectCategory:
    key: str
    name: str
    taxonomy: Named  # the fideslang data subject this relationship is


@dataclass(frozen=True)
class DataProtectionOfficer:
    name: str
    email: str
    phone: str | None
    post: str


@dataclass(frozen=True)
class SupervisoryAuthority:
    name: str
    url: str
    phone: str | None


@dataclass(frozen=True)
class GroupCompany:
    name: str
    relationship: str
    country: str
    company_number: str | None


@dataclass(frozen=True)
class ControllerRecord:
    """Art 30(1)(a): who the controller is and how to reach its DPO."""

    legal_name: str
    trading_name: str | None
    company_number: str | None
    group_parent: str | None
    registered_address: str
    dpo: DataProtectionOfficer
    supervisory_authority: SupervisoryAuthority
    group_companies: tuple[GroupCompany, ...]
    security_measures: tuple[str, ...]

    @property
    def display_name(self) -> str:
        return self.trading_name or self.legal_name


@dataclass(frozen=True)
class LegitimateInterest:
    interest: str
    necessity: str
    balancing: str


@dataclass(frozen=True)
class LawfulBasis:
    key: str  # the policy's word: consent, contract, legitimate_interests ...
    name: str
    article: str  # "Art 6(1)(a)"
    legitimate_interest: LegitimateInterest | None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.article})"


@dataclass(frozen=True)
class SpecialCategoryCondition:
    key: str  # art9_2_a ...
    article: str  # "Art 9(2)(a)"
    name: str

    @property
    def label(self) -> str:
        return f"{self.article} {self.name}"


@dataclass(frozen=True)
class RecipientRecord:
    key: str
    name: str
    kind: str
    kind_name: str
    role: str
    role_name: str
    country: str
    third_country: bool  # outside the UK: a restricted transfer
    transfer_mechanism: str | None
    safeguard: str | None  # the transfer mechanism in words
    minimum_fields: tuple[DataCategory, ...]
    circumstances: str | None


@dataclass(frozen=True)
class Transfer:
    """Art 30(1)(e): personal data leaving the UK, and what makes that lawful."""

    recipient: str
    country: str
    mechanism: str | None
    safeguard: str

    @property
    def label(self) -> str:
        return f"{self.recipient} ({self.country}): {self.safeguard}"


@dataclass(frozen=True)
class RetentionLimit:
    key: str
    name: str
    period: str  # ISO 8601, e.g. P6Y
    period_words: str
    starts: str
    starts_words: str
    action: str
    legal_reason: str | None
    data_categories: tuple[DataCategory, ...]  # empty when the rule covers the whole purpose
    summary: str  # "6 years from the end of the financial year, then delete — HMRC …"

    @property
    def label(self) -> str:
        if not self.data_categories:
            return f"{self.name}: {self.summary}"
        scope = ", ".join(category.name for category in self.data_categories)
        return f"{self.name} ({scope}): {self.summary}"


@dataclass(frozen=True)
class SystemRecord:
    key: str
    name: str
    kind: str
    country: str
    hosted_by: str | None


@dataclass(frozen=True)
class SourceRecord:
    kind: str
    description: str


@dataclass(frozen=True)
class ProcessingActivity:
    """One purpose of the policy with every Art 30(1) field filled in."""

    key: str
    name: str
    description: str
    lawful_basis: LawfulBasis
    special_category_condition: SpecialCategoryCondition | None
    data_uses: tuple[Named, ...]
    data_subjects: tuple[DataSubjectCategory, ...]
    data_categories: tuple[DataCategory, ...]
    recipients: tuple[RecipientRecord, ...]
    transfers: tuple[Transfer, ...]
    retention: tuple[RetentionLimit, ...]
    systems: tuple[SystemRecord, ...]
    sources: tuple[SourceRecord, ...]
    direct_marketing: bool
    analytics: bool
    research: bool
    security_measures: tuple[str, ...]

    @property
    def third_countries(self) -> tuple[str, ...]:
        return tuple(sorted({transfer.country for transfer in self.transfers}))

    @property
    def special_categories(self) -> tuple[DataCategory, ...]:
        return tuple(category for category in self.data_categories if category.special)


@dataclass(frozen=True)
class RecordsOfProcessing:
    controller: ControllerRecord
    activities: tuple[ProcessingActivity, ...]
    notice_version: str
    notice_effective_date: dt.date
    policy_version: int | None  # None when built from a file rather than the store
    generated_at: dt.datetime
