"""The records as JSON-LD in the W3C Data Privacy Vocabulary (DPV 2, https://w3id.org/dpv).

Each purpose becomes a dpv:PersonalDataProcess linked to its purpose, legal basis, personal
data, data subjects, recipients, storage conditions, measures and controller. Legal bases use
the core DPV concepts with UK GDPR (legal-gb:law-GDPR) as the applicable law: the eu-gdpr
article concepts name the EU Regulation, which is not the law this controller answers to.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from opendpo.policy.ropa.records import (
    ControllerRecord,
    DataCategory,
    ProcessingActivity,
    RecipientRecord,
    RecordsOfProcessing,
    RetentionLimit,
)

DEFAULT_BASE = "urn:opendpo:"

CONTEXT = {
    "dpv": "https://w3id.org/dpv#",
    "legal-gb": "https://w3id.org/dpv/legal/gb#",
    "loc": "https://w3id.org/dpv/loc#",
    "dct": "http://purl.org/dc/terms/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

LEGAL_BASES = {
    "consent": "dpv:Consent",
    "contract": "dpv:Contract",
    "legal_obligation": "dpv:LegalObligation",
    "vital_interests": "dpv:VitalInterest",
    "public_task": "dpv:PublicInterest",
    "legitimate_interests": "dpv:LegitimateInterest",
}

RECIPIENT_ROLES = {
    "processor": "dpv:DataProcessor",
    "controller": "dpv:DataController",
    "joint_controller": "dpv:DataController",
}

DATA_SOURCES = {
    "data_subject": "dpv:DataSubjectDataSource",
    "observed": "dpv:DataSubjectDataSource",
    "third_party": "dpv:ThirdPartyDataSource",
    "group_company": "dpv:ThirdPartyDataSource",
}

APPLICABLE_LAW = [{"@id": "legal-gb:law-GDPR"}, {"@id": "legal-gb:law-DPA"}]

# dpv:PersonalDataHandling is "sunset" in DPV 2 in favour of dpv:Process; it is kept as a
# second type so that tools written for DPV 1 still find the records.
PROCESS_TYPES = ["dpv:PersonalDataProcess", "dpv:PersonalDataHandling"]


def to_jsonld(records: RecordsOfProcessing, *, base: str = DEFAULT_BASE) -> dict[str, Any]:
    """The records as one JSON-LD document; node identifiers start with `base`."""
    ids = _Ids(base)
    graph: list[dict[str, Any]] = [_controller(records, ids)]
    graph += _measures(records.controller, ids)
    graph += _shared_nodes(records, ids)
    graph += [_process(activity, ids) for activity in records.activities]
    return {"@context": CONTEXT, "@graph": graph}


def write_jsonld(records: RecordsOfProcessing, out: TextIO, *, base: str = DEFAULT_BASE) -> None:
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
    for chunk in encoder.iterencode(to_jsonld(records, base=base)):
        out.write(chunk)
    out.write("\n")


class _Ids:
    def __init__(self, base: str) -> None:
        self.base = base

    def of(self, kind: str, key: str = "") -> dict[str, str]:
        return {"@id": f"{self.base}{kind}:{key}" if key else f"{self.base}{kind}"}

    @property
    def controller(self) -> dict[str, str]:
        return self.of("controller")


def _controller(records: RecordsOfProcessing, ids: _Ids) -> dict[str, Any]:
    controller = records.controller
    dpo = controller.dpo
    dpo_contact = [f"mailto:{dpo.email}"] + ([dpo.phone] if dpo.phone else [])
    node: dict[str, Any] = {
        **ids.controller,
        "@type": ["dpv:DataController", "dpv:LegalEntity"],
        "dpv:hasName": controller.legal_name,
        "dpv:hasAddress": controller.registered_address,
        "dpv:hasJurisdiction": {"@id": "loc:GB"},
        "dpv:hasDataProtectionOfficer": {
            **ids.of("dpo"),
            "@type": "dpv:DataProtectionOfficer",
            "dpv:hasName": dpo.name,
            "dpv:hasContact": dpo_contact,
            "dpv:hasAddress": dpo.post,
        },
        "dpv:hasTechnicalOrganisationalMeasure": _measure_refs(controller, ids),
        "dct:modified": {
            "@value": records.generated_at.isoformat(timespec="seconds"),
            "@type": "xsd:dateTime",
        },
    }
    if controller.trading_name:
        node["skos:altLabel"] = controller.trading_name
    if controller.company_number:
        node["dct:identifier"] = controller.company_number
    return node


def _measure_refs(controller: ControllerRecord, ids: _Ids) -> list[dict[str, str]]:
    return [
        ids.of("security-measure", str(n)) for n in range(1, len(controller.security_measures) + 1)
    ]


def _measures(controller: ControllerRecord, ids: _Ids) -> list[dict[str, Any]]:
    return [
        {**ref, "@type": "dpv:TechnicalOrganisationalMeasure", "dct:description": measure}
        for ref, measure in zip(
            _measure_refs(controller, ids), controller.security_measures, strict=True
        )
    ]


def _shared_nodes(records: RecordsOfProcessing, ids: _Ids) -> list[dict[str, Any]]:
    """Data subjects, personal data, recipients and systems: one node each, however many
    processes refer to them, in order of first mention."""
    nodes: dict[str, dict[str, Any]] = {}

    def add(node: dict[str, Any]) -> None:
        nodes.setdefault(node["@id"], node)

    for activity in records.activities:
        for subject in activity.data_subjects:
            add(
                {
                    **ids.of("data-subject", subject.key),
                    "@type": "dpv:DataSubject",
                    "skos:prefLabel": subject.name,
                    "dct:identifier": subject.key,
                    "skos:related": subject.taxonomy.name,
                }
            )
        for category in activity.data_categories:
            add(_category(category, ids))
        for recipient in activity.recipients:
            for category in recipient.minimum_fields:
                add(_category(category, ids))
            add(_recipient(recipient, ids))
        for system in activity.systems:
            add(
                {
                    **ids.of("system", system.key),
                    "@type": "dpv:Technology",
                    "dct:title": system.name,
                    "dct:identifier": system.key,
                    "dpv:hasCountry": {"@id": f"loc:{system.country}"},
                }
            )
    return list(nodes.values())


def _category(category: DataCategory, ids: _Ids) -> dict[str, Any]:
    types = ["dpv:PersonalData"]
    if category.special:
        types.append("dpv:SpecialCategoryPersonalData")
    return {
        **ids.of("data-category", category.key),
        "@type": types,
        "skos:prefLabel": category.name,
        "dct:identifier": category.key,
    }


def _recipient(recipient: RecipientRecord, ids: _Ids) -> dict[str, Any]:
    node: dict[str, Any] = {
        **ids.of("recipient", recipient.key),
        "@type": ["dpv:Recipient", RECIPIENT_ROLES[recipient.role]],
        "dpv:hasName": recipient.name,
        "dct:type": recipient.kind_name,
        "dpv:hasCountry": {"@id": f"loc:{recipient.country}"},
    }
    if recipient.minimum_fields:
        node["dpv:hasPersonalData"] = [
            ids.of("data-category", category.key) for category in recipient.minimum_fields
        ]
    if recipient.third_country:
        node["dpv:hasThirdCountry"] = {"@id": f"loc:{recipient.country}"}
    if recipient.safeguard:
        node["dpv:hasLegalMeasure"] = {
            "@type": "dpv:LegalMeasure",
            "dct:title": recipient.safeguard,
            "dct:identifier": recipient.transfer_mechanism,
        }
    return node


def _process(activity: ProcessingActivity, ids: _Ids) -> dict[str, Any]:
    purpose: dict[str, Any] = {
        **ids.of("purpose", activity.key),
        "@type": "dpv:Purpose",
        "dct:title": activity.name,
        "dct:description": activity.description,
    }
    purposes: list[dict[str, Any]] = [purpose]
    if activity.direct_marketing:
        purposes.append({"@id": "dpv:DirectMarketing"})
    if activity.research:
        purposes.append({"@id": "dpv:ResearchAndDevelopment"})
    node: dict[str, Any] = {
        **ids.of("processing", activity.key),
        "@type": PROCESS_TYPES,
        "dct:title": activity.name,
        "dct:identifier": activity.key,
        "dpv:hasPurpose": purposes,
        "dpv:hasLegalBasis": _legal_bases(activity),
        "dpv:hasApplicableLaw": APPLICABLE_LAW,
        "dpv:hasDataController": ids.controller,
        "dpv:hasDataSubject": [ids.of("data-subject", s.key) for s in activity.data_subjects],
        "dpv:hasPersonalData": [ids.of("data-category", c.key) for c in activity.data_categories],
        "dpv:hasRecipient": [ids.of("recipient", r.key) for r in activity.recipients],
        "dpv:hasStorageCondition": [_storage(limit, ids) for limit in activity.retention],
        "dpv:hasTechnicalOrganisationalMeasure": [
            ids.of("security-measure", str(n))
            for n in range(1, len(activity.security_measures) + 1)
        ],
        "dpv:isImplementedUsingTechnology": [ids.of("system", s.key) for s in activity.systems],
        "dpv:hasDataSource": [
            {"@type": DATA_SOURCES[source.kind], "dct:description": source.description}
            for source in activity.sources
        ],
    }
    if activity.analytics:
        node["dpv:hasProcessing"] = {"@id": "dpv:Analyse"}
    if activity.third_countries:
        node["dpv:hasThirdCountry"] = [{"@id": f"loc:{c}"} for c in activity.third_countries]
    reasoning = activity.lawful_basis.legitimate_interest
    if reasoning is not None:
        node["dpv:hasJustification"] = [
            {"@type": "dpv:Justification", "dct:title": title, "dct:description": text}
            for title, text in (
                ("Legitimate interest", reasoning.interest),
                ("Necessity", reasoning.necessity),
                ("Balancing test", reasoning.balancing),
            )
        ]
    return node


def _legal_bases(activity: ProcessingActivity) -> list[dict[str, Any]]:
    bases: list[dict[str, Any]] = [{"@id": LEGAL_BASES[activity.lawful_basis.key]}]
    condition = activity.special_category_condition
    if condition is not None:
        # DPV has no UK-law concept for each Art 9(2) condition; name it in words.
        bases.append({"@type": "dpv:LegalBasis", "dct:title": f"UK GDPR {condition.label}"})
    return bases


def _storage(limit: RetentionLimit, ids: _Ids) -> dict[str, Any]:
    types = ["dpv:StorageDuration"]
    if limit.action == "delete":
        types.append("dpv:StorageDeletion")
    node: dict[str, Any] = {
        "@type": types,
        "dct:title": limit.name,
        "dct:description": limit.summary,
        "dpv:hasDuration": {
            "@type": "dpv:TemporalDuration",
            "rdf:value": {"@value": limit.period, "@type": "xsd:duration"},
        },
    }
    if limit.data_categories:
        node["dpv:hasPersonalData"] = [
            ids.of("data-category", category.key) for category in limit.data_categories
        ]
    return node
