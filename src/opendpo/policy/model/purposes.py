"""Purposes: why personal data is used, on which lawful basis, and about whom."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from opendpo.policy.model.base import Duration, Key, Keyed, StrictModel, Text

LawfulBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]

ARTICLE_6 = {
    "consent": "Art 6(1)(a)",
    "contract": "Art 6(1)(b)",
    "legal_obligation": "Art 6(1)(c)",
    "vital_interests": "Art 6(1)(d)",
    "public_task": "Art 6(1)(e)",
    "legitimate_interests": "Art 6(1)(f)",
}

LAWFUL_BASIS_NAMES = {
    "consent": "Consent",
    "contract": "Contract",
    "legal_obligation": "Legal obligation",
    "vital_interests": "Vital interests",
    "public_task": "Public task",
    "legitimate_interests": "Legitimate interests",
}

Art9Condition = Literal[
    "art9_2_a", "art9_2_b", "art9_2_c", "art9_2_d", "art9_2_e",
    "art9_2_f", "art9_2_g", "art9_2_h", "art9_2_i", "art9_2_j",
]  # fmt: skip

Channel = Literal["email", "phone", "sms", "post", "cookie", "in_person"]


class DataSubject(Keyed):
    """A relationship the notice describes (client contact, enquirer, visitor ...)."""

    taxonomy: Key = Field(description="The fideslang data subject this relationship is.")


class LegitimateInterest(StrictModel):
    """The three-part test the ICO expects for Art 6(1)(f)."""

    interest: Text
    necessity: Text
    balancing: Text


class ConsentTerms(StrictModel):
    channels: list[Channel] = Field(min_length=1)
    withdrawal_routes: list[Key] = Field(
        default=[], description="Contact route keys through which consent can be withdrawn."
    )
    wording: Text | None = Field(default=None, description="What the opt-in says.")
    valid_for: Duration | None = Field(
        default=None,
        description="Consent lapses this long after it was given (ICO: it does not last for "
        "ever); the person is then asked again.",
    )
    until_renewed: Literal["deny", "allow"] = Field(
        default="deny",
        description="After a material change to this purpose, consent given to the earlier "
        "wording: deny (ask again first) or allow until the person answers.",
    )


class Source(StrictModel):
    """Where the data comes from; Art 14 applies when not from the person."""

    kind: Literal["data_subject", "observed", "third_party", "group_company"]
    description: Text | None = None
    recipient: Key | None = Field(default=None, description="The party it came from, if listed.")


class Purpose(Keyed):
    description: Text
    lawful_basis: LawfulBasis
    legitimate_interest: LegitimateInterest | None = None
    consent: ConsentTerms | None = None
    data_uses: list[Key] = Field(min_length=1)
    data_categories: list[Key] = Field(min_length=1)
    data_subjects: list[Key] = Field(min_length=1)
    systems: list[Key] = []
    recipients: list[Key] = []
    retention: Key | None = None
    sources: list[Source] = [Source(kind="data_subject")]
    direct_marketing: bool = False
    analytics: bool = False
    research: bool = False
    special_category_condition: Art9Condition | None = None
    further_processing_needs_permission: bool = Field(
        default=True,
        description="The notice's promise: nothing beyond this purpose without asking.",
    )

    @property
    def article(self) -> str:
        return ARTICLE_6[self.lawful_basis]
