"""Who the controller is, how to reach it and its data protection officer."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field

from opendpo.policy.model.base import CountryCode, Key, Keyed, StrictModel, Text


class PostalAddress(StrictModel):
    lines: list[Text] = Field(min_length=1)
    town: Text
    county: Text | None = None
    postcode: Text
    country: CountryCode = "GB"

    def one_line(self) -> str:
        parts = [*self.lines, self.town, self.county, self.postcode]
        return ", ".join(part for part in parts if part)


class DataProtectionOfficer(StrictModel):
    name: Text
    email: EmailStr
    phone: Text | None = None
    post: PostalAddress


ContactKind = Literal["email", "phone", "post", "web_form", "preference_centre", "unsubscribe_link"]
ContactUse = Literal[
    "questions", "consent_withdrawal", "rights_requests", "data_updates", "complaints"
]


class ContactRoute(StrictModel):
    """A way to reach the controller; consent withdrawal and rights name these by key."""

    key: Key
    kind: ContactKind
    value: Text = Field(description="The address, number or page path people use.")
    handles: list[ContactUse] = Field(min_length=1)


class GroupCompany(Keyed):
    relationship: Literal["parent", "subsidiary", "sibling"]
    country: CountryCode = "GB"
    company_number: Text | None = None


class SupervisoryAuthority(StrictModel):
    name: Text = "Information Commissioner's Office"
    url: Text = "https://ico.org.uk/make-a-complaint/"
    phone: Text | None = "0303 123 1113"


class Controller(StrictModel):
    legal_name: Text
    trading_name: Text | None = None
    company_number: Text | None = None
    group_parent: Text | None = None
    registered_address: PostalAddress
    dpo: DataProtectionOfficer
    contact_routes: list[ContactRoute] = Field(min_length=1)
    group_companies: list[GroupCompany] = []
    security_measures: list[Text] = Field(
        default=[], description="Art 30(1)(g): a general description of security measures."
    )
    supervisory_authority: SupervisoryAuthority = SupervisoryAuthority()

    @property
    def display_name(self) -> str:
        return self.trading_name or self.legal_name
