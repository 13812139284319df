"""Suggesting a column's data category (fideslang keys) from its name and from sampled values.

A suggestion always says why ("named like an email address", "48 of 50 sampled values look
like email addresses"), so that a person reviewing the draft can judge it. Values are only
counted, never kept.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

EMAIL = "user.contact.email"
PHONE = "user.contact.phone_number"
POSTCODE = "user.contact.address.postal_code"
IP_ADDRESS = "user.device.ip_address"
OPERATIONS = "system.operations"
PERSON_NAME = "user.name"
ORGANISATION = "user.contact.organization"

# The identity kinds a request can carry, by the category of the column holding them.
IDENTITY_FOR = {EMAIL: "email", PHONE: "phone_number"}
# At least this share of sampled values must look alike for the values to count as evidence.
SHARE = 0.8


@dataclass(frozen=True)
class Suggestion:
    category: str
    reasons: tuple[str, ...]


# (pattern over the whole snake_case name, category, what the name looks like)
_NAME_RULES: tuple[tuple[str, str, str], ...] = (
    (r"(.+_)?e_?mail(_address|_addr)?", EMAIL, "an email address"),
    (r"(.+_)?(phone|telephone|tel|mobile|cell)(_number|_no)?", PHONE, "a telephone number"),
    (r"fax(_number|_no)?", "user.contact.fax_number", "a fax number"),
    (r"(first|given|fore)_?names?", "user.name.first", "a first name"),
    (r"(last|family|sur)_?names?|surname", "user.name.last", "a last name"),
    (r"(full|contact|customer|person|display|officer)_?names?", PERSON_NAME, "a person's name"),
    (
        r"(company|organi[sz]ation|employer|business|org)(_name)?",
        ORGANISATION,
        "an organisation",
    ),
    (r"department|dept", ORGANISATION, "a department of an organisation"),
    (r"job_?title|occupation", "user.job_title", "a job title"),
    (
        r"street|address_?line_?\d|line_?\d|address_?\d",
        "user.contact.address.street",
        "a street",
    ),
    (r"city|town", "user.contact.address.city", "a town or city"),
    (r"post_?code|postal_?code|zip(_?code)?", POSTCODE, "a postcode"),
    (r"country(_code)?", "user.contact.address.country", "a country"),
    (r"county|region|province", "user.contact.address.state", "a county or region"),
    (r"(.+_)?ip(_?address|_addr|_v[46])?|remote_addr", IP_ADDRESS, "an IP address"),
    (r"(.+_)?address", "user.contact.address", "an address"),
    (r"user_?agent|browser", "user.device", "a browser's user agent"),
    (r"(cookie|visitor|anonymous)_id", "user.device.cookie_id", "a cookie's identifier"),
    (r"device_id", "user.device.device_id", "a device identifier"),
    (
        r"date_of_birth|dob|birth_?date|birthday",
        "user.demographic.date_of_birth",
        "a date of birth",
    ),
    (r"gender|sex", "user.demographic.gender", "a gender"),
    (r"password(_hash)?|passwd", "user.authorization.password", "a password"),
    (r"user_?name|login", "user.account.username", "a user name"),
    (r"url|website|homepage", "user.contact.url", "a web address"),
    (
        r"iban|bank_account(_number)?|account_number|sort_code",
        "user.financial.bank_account",
        "a bank account",
    ),
    (r"card_number|pan", "user.financial.credit_card", "a payment card number"),
    (
        r"ni_number|nino|national_insurance(_number)?|ssn",
        "user.government_id.national_identification_number",
        "a national insurance number",
    ),
    (r"passport(_number)?", "user.government_id.passport_number", "a passport number"),
    (
        r"message|comments?|notes?|body|enquiry|feedback",
        "user.content.private",
        "something a person wrote",
    ),
    (
        r"(.+_)?(opt_?in|opt_?out|consent|subscribed|unsubscribed)",
        "user.privacy_preferences",
        "a privacy choice",
    ),
    (
        r"referr?er|page|landing_page|url_path",
        "user.behavior.browsing_history",
        "a page visited",
    ),
    (r"lat|latitude|lng|lon|longitude", "user.location.precise", "a precise location"),
)
_COMPILED = tuple((re.compile(p), c, what) for p, c, what in _NAME_RULES)

_PEOPLE_TABLE = re.compile(
    r"(.+_)?(contacts?|customers?|users?|people|persons?|members?|subscribers?|employees?|"
    r"staff|officers?|leads?|clients?|patients?|students?|accounts?|submissions?|deliveries)"
)
_ORGANISATION_TABLE = re.compile(r"(.+_)?(organi[sz]ations?|compan(y|ies)|businesses|firms?)")
_TIMESTAMP = re.compile(r".+_(at|on|date|time)|(created|updated|modified|deleted)")

_EMAIL_VALUE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE_VALUE = re.compile(r"\+?\d{9,15}")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_POSTCODE_VALUE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", re.IGNORECASE)


def snake(name: str) -> str:
    """`billingEmail`, `Billing-Email` and `BILLING_EMAIL` all as `billing_email`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def by_name(column: str, *, table: str, table_holds_people: bool) -> Suggestion | None:
    name = snake(column)
    if name == "name":
        # A bare "name" is a person's only where the table is about people.
        if _ORGANISATION_TABLE.fullmatch(snake(table)):
            return Suggestion(ORGANISATION, ("the name column of an organisations table",))
        if table_holds_people or _PEOPLE_TABLE.fullmatch(snake(table)):
            return Suggestion(PERSON_NAME, ("the name column of a table about people",))
        return None
    for pattern, category, what in _COMPILED:
        if pattern.fullmatch(name):
            return Suggestion(category, (f"named like {what}",))
    return None


def looks_like_email(value: str) -> bool:
    return bool(_EMAIL_VALUE.fullmatch(value.strip()))


def looks_like_phone(value: str) -> bool:
    text = _PHONE_SEPARATORS.sub("", value.strip())
    return bool(_PHONE_VALUE.fullmatch(text)) and text.startswith(("+", "0"))


def looks_like_postcode(value: str) -> bool:
    return bool(_POSTCODE_VALUE.fullmatch(value.strip()))


def looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


_VALUE_RULES = (
    (looks_like_email, EMAIL, "email addresses"),
    (looks_like_phone, PHONE, "telephone numbers"),
    (looks_like_postcode, POSTCODE, "UK postcodes"),
    (looks_like_ip, IP_ADDRESS, "IP addresses"),
)


def by_values(values: Sequence[str]) -> tuple[Suggestion | None, dict[str, str]]:
    """The category most sampled values look like (if at least SHARE do), and a count for each
    category any value looked like: "12 of 50 sampled values look like email addresses"."""
    if not values:
        return None, {}
    counts: dict[str, str] = {}
    best: Suggestion | None = None
    for test, category, what in _VALUE_RULES:
        hits = sum(1 for value in values if test(value))
        if not hits:
            continue
        reason = f"{hits} of {len(values)} sampled values look like {what}"
        counts[category] = reason
        if best is None and hits >= SHARE * len(values):
            best = Suggestion(category, (reason,))
    return best, counts


def is_timestamp_name(column: str) -> bool:
    return bool(_TIMESTAMP.fullmatch(snake(column)))
