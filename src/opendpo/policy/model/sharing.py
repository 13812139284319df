"""Recipients: who personal data may go to, how little, and with what checks."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from opendpo.policy.model.base import CountryCode, Key, Keyed, StrictModel, Text

RecipientKind = Literal[
    "courier",
    "processor",
    "affiliate",
    "integration_provider",
    "authority",
    "business_successor",
    "professional_adviser",
    "credit_reference_agency",
]
TransferMechanism = Literal[
    "adequacy", "idta", "uk_addendum", "binding_corporate_rules", "derogation", "eu_sccs"
]


class DueDiligence(StrictModel):
    dpa_signed_on: dt.date | None = None
    nda_signed_on: dt.date | None = None
    gdpr_assessment_on: dt.date | None = None
    next_review_on: dt.date | None = None
    notes: Text | None = None


class Recipient(Keyed):
    kind: RecipientKind
    role: Literal["processor", "controller", "joint_controller"]
    purposes: list[Key] = Field(min_length=1)
    minimum_fields: list[Key] = Field(
        default=[], description="Data categories this recipient may receive; nothing more."
    )
    circumstances: Text | None = Field(
        default=None, description="When data goes to this recipient, in the notice's words."
    )
    country: CountryCode = "GB"
    transfer_mechanism: TransferMechanism | None = None
    group_company: Key | None = None
    due_diligence: DueDiligence | None = None
