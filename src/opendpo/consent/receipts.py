"""Consent receipts: one ledger record as the person's own proof of what they agreed to.

The receipt follows ISO/IEC TS 27560 (header, processing, events), with W3C DPV terms as
the ropa JSON-LD export uses them, and carries the Kantara Consent Receipt v1.1 fields in a
`kantara` object, so tools written for either can read it. It describes the policy version
the record was made under, not today's: a receipt must not change after it is issued.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.consent.ledger import (
    Channel,
    CollectionMethod,
    ConsentRecord,
    ConsentState,
    get_record,
)
from opendpo.errors import NotFound
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.purposes import ARTICLE_6
from opendpo.policy.ropa.jsonld import APPLICABLE_LAW, LEGAL_BASES, RECIPIENT_ROLES
from opendpo.policy.taxonomy import vocabulary
from opendpo.policy.versions import PolicyVersion

# Pure wording helpers: the names people read in the notice are the names on their receipt.
from opendpo.policy.wording import humanise_category
from opendpo.security.audit import as_utc
from opendpo.settings import Settings
from opendpo.subjects.people import Identity, Person, get_person

SCHEMA_VERSION = "ISO/IEC TS 27560:2023"
KANTARA_VERSION = "KI-CR-v1.1.0"
JURISDICTION = "GB"

STATES = {
    ConsentState.GIVEN.value: "dpv:ConsentGiven",
    ConsentState.WITHDRAWN.value: "dpv:ConsentWithdrawn",
    ConsentState.REFUSED.value: "dpv:ConsentRefused",
}

# DPV's legal basis concepts per article exist for the EU text only; UK GDPR keeps its
# article numbering, so the eu-gdpr concept names the same basis, under the UK law below.
ARTICLE_TERMS = {
    "consent": "eu-gdpr:A6-1-a",
    "contract": "eu-gdpr:A6-1-b",
    "legal_obligation": "eu-gdpr:A6-1-c",
    "vital_interests": "eu-gdpr:A6-1-d",
    "public_task": "eu-gdpr:A6-1-e",
    "legitimate_interests": "eu-gdpr:A6-1-f",
}

# Cookie categories rest on PECR regulation 6, not on an Art 6 basis of their own: opt-in
# categories on consent, the analytics exception and strictly necessary cookies on the
# controller's interest in running the site.
COOKIE_BASES = {
    "required": "consent",
    "objection": "legitimate_interests",
    "not_required": "legitimate_interests",
}

METHOD_NAMES = {
    CollectionMethod.WEB_FORM.value: "Web form",
    CollectionMethod.PREFERENCE_CENTRE.value: "Preference centre",
    CollectionMethod.UNSUBSCRIBE.value: "Unsubscribe link",
    CollectionMethod.COOKIE_BANNER.value: "Cookie banner",
    CollectionMethod.GLOBAL_PRIVACY_CONTROL.value: "Global Privacy Control signal",
    CollectionMethod.PHONE.value: "Telephone call, recorded by staff",
    CollectionMethod.PAPER.value: "Paper form, recorded by staff",
    CollectionMethod.EMAIL.value: "Email, recorded by staff",
    CollectionMethod.API.value: "Reported by a connected system",
    CollectionMethod.IMPORT.value: "Imported",
}


def principal_id(record: ConsentRecord, identities: Sequence[Identity]) -> str:
    """The address the person knows themselves by; the person's id when there is none."""
    for kind in ("email", "phone", "customer_id"):
        for identity in identities:
            if identity.kind == kind:
                return identity.value
    return record.person_id


def receipt(
    *,
    record: ConsentRecord,
    identities: Sequence[Identity],
    policy: PolicyDocument,
    settings: Settings,
) -> dict[str, Any]:
    """The receipt for `record`; `policy` is the document of record.policy_version."""
    about = _Purpose.of(policy, record)
    principal = principal_id(record, identities)
    at = as_utc(record.at)
    expires = as_utc(record.expires_at).isoformat() if record.expires_at else None
    controller = policy.controller
    notice_url = policy.notice.url or settings.base_url.rstrip("/") + "/"
    withdrawal = _withdrawal(policy, about.withdrawal_routes, settings)
    return {
        "header": {
            "schemaVersion": SCHEMA_VERSION,
            "recordId": record.id,
            "piiPrincipalId": principal,
        },
        "processing": {
            "notice": {"url": notice_url, "version": record.notice_version},
            "policyVersion": record.policy_version,
            "language": policy.notice.language,
            "purposes": [
                {
                    "key": about.key,
                    "name": about.name,
                    "description": about.description,
                    "channel": record.channel,
                    "purpose": about.dpv_purposes,
                    "legalBasis": {
                        "type": LEGAL_BASES[about.basis],
                        "article": f"UK GDPR {ARTICLE_6[about.basis]}",
                        "dpvArticle": ARTICLE_TERMS[about.basis],
                        "applicableLaw": [law["@id"] for law in APPLICABLE_LAW],
                    },
                    "wording": record.wording,
                }
            ],
            "personalDataCategories": [
                {"key": key, "name": about.category_names[key], "special": key in about.special}
                for key in about.categories
            ],
            "controllers": [
                {
                    "name": controller.legal_name,
                    "tradingName": controller.trading_name,
                    "address": controller.registered_address.one_line(),
                    "contact": {"email": controller.dpo.email, "phone": controller.dpo.phone},
                    "type": "dpv:DataController",
                }
            ],
            "storage": {"location": JURISDICTION, "retention": about.retention},
            "jurisdiction": JURISDICTION,
            "recipients": about.recipients,
            "withdrawalMethod": withdrawal,
        },
        "events": [
            {
                "time": at.isoformat(),
                "validity": expires,
                "entity": "dpv:DataSubject",
                "recordedBy": "dpv:DataController" if record.staff_id else None,
                "type": "dpv:ExpressedConsent",
                "method": record.method,
                "state": STATES[record.state],
            }
        ],
        "kantara": {
            "version": KANTARA_VERSION,
            "jurisdiction": JURISDICTION,
            "consentTimestamp": int(at.timestamp()),
            "collectionMethod": METHOD_NAMES.get(record.method, record.method),
            "consentReceiptID": record.id,
            "language": policy.notice.language,
            "piiPrincipalId": principal,
            "piiControllers": [
                {
                    "piiController": controller.legal_name,
                    "onBehalf": False,
                    "contact": controller.dpo.name,
                    "address": {"streetAddress": controller.registered_address.one_line()},
                    "email": controller.dpo.email,
                    "phone": controller.dpo.phone or "",
                }
            ],
            "policyUrl": notice_url,
            "services": [
                {
                    "service": about.name,
                    "purposes": [
                        {
                            "purpose": about.name,
                            "purposeCategory": about.use_names,
                            "consentType": "EXPLICIT",
                            "piiCategory": [about.category_names[k] for k in about.categories],
                            "primaryPurpose": True,
                            "termination": _termination(record, withdrawal),
                            "thirdPartyDisclosure": bool(about.third_parties),
                            "thirdPartyName": ", ".join(about.third_parties),
                        }
                    ],
                }
            ],
            "sensitive": bool(about.special),
            "spiCat": [about.category_names[k] for k in about.categories if k in about.special],
        },
    }


@dataclass(frozen=True)
class _Purpose:
    """What the policy says about the record's purpose (or cookie category)."""

    key: str
    name: str
    description: str
    basis: str
    dpv_purposes: list[str]
    categories: list[str]
    category_names: dict[str, str]
    use_names: list[str]
    special: set[str]
    retention: dict[str, str] | None
    recipients: list[dict[str, Any]]
    third_parties: list[str]
    withdrawal_routes: list[str]

    @classmethod
    def of(cls, policy: PolicyDocument, record: ConsentRecord) -> _Purpose:
        words = vocabulary(policy.taxonomy)
        if record.channel == Channel.COOKIE.value:
            assert policy.cookies is not None
            category = next(c for c in policy.cookies.categories if c.key == record.purpose)
            return cls(
                key=category.key,
                name=category.name,
                description=category.description,
                basis=COOKIE_BASES[category.consent],
                dpv_purposes=[f"urn:opendpo:cookie-category:{category.key}"],
                categories=[],
                category_names={},
                use_names=[],
                special=set(),
                retention=None,
                recipients=[],
                third_parties=[],
                withdrawal_routes=[],
            )
        purpose = policy.purpose(record.purpose)
        recipients = [policy.recipient(key) for key in purpose.recipients]
        dpv = [f"urn:opendpo:purpose:{purpose.key}"]
        if purpose.direct_marketing:
            dpv.append("dpv:DirectMarketing")
        retention = None
        if purpose.retention is not None:
            rule = policy.retention_rule(purpose.retention)
            retention = {"name": rule.name, "period": rule.period, "starts": rule.starts}
            retention["action"] = rule.action
        return cls(
            key=purpose.key,
            name=purpose.name,
            description=purpose.description,
            basis=purpose.lawful_basis,
            dpv_purposes=dpv,
            categories=list(purpose.data_categories),
            category_names={
                k: humanise_category(words.data_categories.get(k, k))
                for k in purpose.data_categories
            },
            use_names=[words.data_uses.get(k, k) for k in purpose.data_uses],
            special={k for k in purpose.data_categories if words.is_special(k)},
            retention=retention,
            recipients=[
                {
                    "key": r.key,
                    "name": r.name,
                    "type": RECIPIENT_ROLES[r.role],
                    "country": r.country,
                }
                for r in recipients
            ],
            # Processors act on our instructions; only the others are third parties.
            third_parties=[r.name for r in recipients if r.role != "processor"],
            withdrawal_routes=list(purpose.consent.withdrawal_routes if purpose.consent else []),
        )


def _withdrawal(
    policy: PolicyDocument, route_keys: Sequence[str], settings: Settings
) -> list[dict[str, str]]:
    """The routes the policy names; the preference centre always, as the easiest one."""
    base = settings.base_url.rstrip("/")
    centre = {"kind": "preference_centre", "value": f"{base}/preferences"}
    methods = [centre]
    for route in policy.controller.contact_routes:
        if route.key not in route_keys or route.kind == "preference_centre":
            continue
        value = f"{base}{route.value}" if route.value.startswith("/") else route.value
        methods.append({"kind": route.kind, "value": value})
    return methods


def _termination(record: ConsentRecord, withdrawal: list[dict[str, str]]) -> str:
    lapse = (
        f"Lapses on {as_utc(record.expires_at).date().isoformat()} unless renewed. "
        if record.expires_at
        else ""
    )
    return f"{lapse}Withdraw at any time at {withdrawal[0]['value']}."


@dataclass(frozen=True)
class IssuedReceipt:
    document: dict[str, Any]
    record: ConsentRecord
    person: Person


def receipt_for(*, session: Session, settings: Settings, record_id: str) -> IssuedReceipt:
    """The receipt of one record, described by the policy version it was recorded under."""
    record = get_record(session=session, record_id=record_id)
    if record is None:
        raise NotFound("consent record", record_id)
    person = get_person(session=session, person_id=record.person_id)
    version = session.scalar(
        select(PolicyVersion).where(PolicyVersion.number == record.policy_version)
    )
    if version is None:
        raise NotFound("policy version", str(record.policy_version))
    document = receipt(
        record=record, identities=person.identities, policy=version.policy(), settings=settings
    )
    return IssuedReceipt(document, record, person)
