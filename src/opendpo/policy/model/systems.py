"""Systems that hold personal data, and the rules for how long they keep it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from opendpo.policy.model.base import CountryCode, Duration, Key, Keyed, Text

SystemKind = Literal[
    "crm", "billing", "accounting", "email_platform", "website", "analytics",
    "support", "file_storage", "telephony", "other",
]  # fmt: skip


class System(Keyed):
    kind: SystemKind
    owner: Text | None = Field(default=None, description="Team accountable for the system.")
    hosted_by: Key | None = Field(default=None, description="Processor recipient hosting it.")
    country: CountryCode = "GB"
    datasets: list[Key] = Field(default=[], description="fides_key of each dataset it holds.")
    connection: dict[str, Any] | None = Field(
        default=None,
        description="How OpenDPO reaches the system to carry out requests: `type` sql, redis, "
        "http, email (a processor answering by email) or manual, and that type's settings. "
        "Secrets are named by environment variable (`url_env`, `token_env` …), never written "
        "here; `opendpo systems add` keeps them encrypted in the store instead. Without a "
        "connection, requests reach the system as a task for staff.",
    )


ClockStart = Literal[
    "collection", "last_contact", "end_of_contract", "end_of_financial_year", "consent_withdrawal"
]


class RetentionRule(Keyed):
    purposes: list[Key] = []
    data_categories: list[Key] = []
    period: Duration
    starts: ClockStart
    action: Literal["delete", "anonymise"]
    legal_reason: Text | None = Field(
        default=None, description="Why the data must be kept this long (e.g. HMRC, six years)."
    )

    @model_validator(mode="after")
    def _applies_to_something(self) -> RetentionRule:
        if not self.purposes and not self.data_categories:
            raise ValueError("a retention rule must name purposes or data_categories")
        return self
