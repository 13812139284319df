"""Plain words for the policy's codes, as people reading the notice or the console see them."""

from __future__ import annotations

from opendpo.policy.model.base import describe_duration
from opendpo.policy.model.systems import RetentionRule

LAWFUL_BASIS = {
    "consent": "Your consent: you opted in, and you can change your mind at any time.",
    "contract": (
        "Our contract with you: we need this to give you a quote, take an order or provide "
        "the services you asked for."
    ),
    "legal_obligation": "The law: we have to do this to meet a legal duty.",
    "vital_interests": "To protect someone's life.",
    "public_task": "A task carried out in the public interest.",
    "legitimate_interests": (
        "Our legitimate interests: a reasonable business need that we have weighed against "
        "your rights and interests."
    ),
}

CLOCK_START = {
    "collection": "from when we collected it",
    "last_contact": "from our last contact with you",
    "end_of_contract": "from the end of the contract",
    "end_of_financial_year": "from the end of the financial year it relates to",
    "consent_withdrawal": "from when you withdraw your consent",
}

RETENTION_ACTION = {"delete": "then we delete it", "anonymise": "then we anonymise it"}

RECIPIENT_KIND = {
    "courier": "Courier",
    "processor": "Service provider (processor)",
    "affiliate": "Company in our group",
    "integration_provider": "Integration provider",
    "authority": "Public authority, court or regulator",
    "business_successor": "Buyer or successor of our business",
    "professional_adviser": "Professional adviser",
    "credit_reference_agency": "Credit reference agency",
}

ROLE = {
    "processor": "Processor (acts on our instructions)",
    "controller": "Separate controller",
    "joint_controller": "Joint controller",
}

# Read in a sentence: "protected by ...".
TRANSFER_MECHANISM = {
    "adequacy": "the UK's adequacy regulations",
    "idta": "the UK International Data Transfer Agreement",
    "uk_addendum": "the UK Addendum to the EU Standard Contractual Clauses",
    "binding_corporate_rules": "binding corporate rules",
    "derogation": "a specific exception under UK GDPR Article 49",
    "eu_sccs": "the EU Standard Contractual Clauses",
}

COOKIE_CONSENT = {
    "not_required": "Always on: the website cannot work without these.",
    "objection": "On unless you object; you can switch them off at any time, free of charge.",
    "required": "Off until you say yes.",
}

# Where the notice names a country it is usually one of these; any other shows its ISO code.
COUNTRY = {
    "GB": "the United Kingdom",
    "IE": "Ireland",
    "FR": "France",
    "DE": "Germany",
    "NL": "the Netherlands",
    "BE": "Belgium",
    "ES": "Spain",
    "IT": "Italy",
    "PT": "Portugal",
    "SE": "Sweden",
    "DK": "Denmark",
    "FI": "Finland",
    "NO": "Norway",
    "PL": "Poland",
    "CH": "Switzerland",
    "US": "the United States",
    "CA": "Canada",
    "AU": "Australia",
    "NZ": "New Zealand",
    "IN": "India",
    "JP": "Japan",
    "KR": "South Korea",
    "IL": "Israel",
    "SG": "Singapore",
    "ZA": "South Africa",
}


def word(table: dict[str, str], key: str) -> str:
    """The plain words for `key`; a code added to the schema but not yet here still reads."""
    return table.get(key) or key.replace("_", " ").capitalize()


def country_name(code: str) -> str:
    return COUNTRY.get(code, code)


def humanise_category(name: str) -> str:
    """fideslang names read "User Contact Email"; people read "Email"."""
    for prefix in ("User Contact ", "User "):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def describe_retention(rule: RetentionRule) -> str:
    return (
        f"{describe_duration(rule.period)} {CLOCK_START[rule.starts]}, "
        f"{RETENTION_ACTION[rule.action]}"
    )
