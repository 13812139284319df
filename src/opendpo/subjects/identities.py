"""Identity kinds and their one normal form, so that the same person always hashes the same.

`Jane@Example.COM` and `jane@example.com`, `07700 900123` and `+447700900123`: the blind index
is computed over the normal form, so any spelling finds the person.
"""

from __future__ import annotations

from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from opendpo.errors import InvalidValue

# Numbers written without a country code are read as UK numbers: the controller is in the UK.
DEFAULT_PHONE_REGION = "GB"
MAX_OPAQUE_LENGTH = 200


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CUSTOMER_ID = "customer_id"
    COOKIE_ID = "cookie_id"


def normalise(kind: IdentityKind | str, value: str, *, field: str | None = None) -> str:
    """The normal form of an identity, or InvalidValue naming `field` (default: the kind)."""
    try:
        kind = IdentityKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in IdentityKind)
        raise InvalidValue(
            field or "kind", f"'{kind}' is not an identity kind ({choices})"
        ) from None
    name = field or kind.value
    value = value.strip()
    if not value:
        raise InvalidValue(name, "must not be empty")
    if kind is IdentityKind.EMAIL:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            raise InvalidValue(name, str(exc)) from None
        # Local parts are case-sensitive by the RFC, but no real mailbox provider treats them so.
        return checked.normalized.lower()
    if kind is IdentityKind.PHONE:
        try:
            number = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
        except phonenumbers.NumberParseException:
            raise InvalidValue(name, "is not a telephone number") from None
        # "Possible" (a plausible length for the country), not "valid": the library's list of
        # allocated ranges lags behind real allocations, and refusing a real number loses data.
        if not phonenumbers.is_possible_number(number):
            raise InvalidValue(name, "is not a valid telephone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(value) > MAX_OPAQUE_LENGTH or any(ch.isspace() for ch in value):
        raise InvalidValue(name, f"use at most {MAX_OPAQUE_LENGTH} characters and no spaces")
    return value
