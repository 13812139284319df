"""Building the Art 30(1) records from a policy."""

from __future__ import annotations

import typing
from pathlib import Path

from opendpo.policy.loader import load_policy
from opendpo.policy.model.purposes import Art9Condition, LawfulBasis
from opendpo.policy.model.sharing import RecipientKind, TransferMechanism
from opendpo.policy.model.systems import ClockStart
from opendpo.policy.ropa import build
from opendpo.policy.ropa.build import build_records
from opendpo.policy.ropa.records import RecordsOfProcessing


def test_one_activity_per_purpose_in_policy_order(
    rich_records: RecordsOfProcessing, minimal_policy: Path
) -> None:
    assert [a.key for a in rich_records.activities] == [
        "client_contracts",
        "marketing_email",
        "accessibility",
        "site_statistics",
    ]
    minimal = build_records(load_policy(minimal_policy).document)
    assert [a.key for a in minimal.activities] == ["client_contracts", "marketing_email"]
    assert minimal.policy_version is None
    assert minimal.generated_at.tzinfo is not None


def test_controller_block(rich_records: RecordsOfProcessing) -> None:
    controller = rich_records.controller
    assert controller.legal_name == "Example Widgets Ltd"
    assert controller.display_name == "Widgets"
    assert controller.group_parent == "Example Holdings Plc"
    assert controller.registered_address == "1 High Street, Luton, LU1 1AA"
    assert controller.dpo.email == "dpo@example.co.uk"
    assert controller.dpo.phone == "+44 1582 000000"
    assert controller.dpo.post.startswith("Data Protection Officer, 1 High Street")
    assert controller.supervisory_authority.name == "Information Commissioner's Office"
    assert [c.name for c in controller.group_companies] == ["Example Holdings Plc"]
    assert rich_records.policy_version == 3
    assert rich_records.notice_version == "1.0"


def test_lawful_basis_reasoning_and_special_category(rich_records: RecordsOfProcessing) -> None:
    by_key = {a.key: a for a in rich_records.activities}
    assert by_key["marketing_email"].lawful_basis.label == "Consent (Art 6(1)(a))"
    assert by_key["client_contracts"].lawful_basis.label == "Contract (Art 6(1)(b))"
    accessibility = by_key["accessibility"]
    assert accessibility.lawful_basis.label == "Legitimate interests (Art 6(1)(f))"
    reasoning = accessibility.lawful_basis.legitimate_interest
    assert reasoning is not None and reasoning.interest == "Serving every client contact well."
    assert by_key["client_contracts"].lawful_basis.legitimate_interest is None
    condition = accessibility.special_category_condition
    assert condition is not None and condition.label == "Art 9(2)(a) explicit consent"
    assert [c.key for c in accessibility.special_categories] == ["user.health_and_medical"]
    assert [(c.key, c.name) for c in by_key["marketing_email"].data_categories] == [
        ("user.name", "Name"),
        ("user.contact.email", "User Contact Email"),
    ]


def test_recipients_include_system_hosts_and_transfers_name_safeguards(
    rich_records: RecordsOfProcessing,
) -> None:
    by_key = {a.key: a for a in rich_records.activities}
    marketing = by_key["marketing_email"]
    assert [r.key for r in marketing.recipients] == ["mailer", "crm_host"]
    assert marketing.third_countries == ("IE", "US")
    assert [t.label for t in marketing.transfers] == [
        "Mail Platform Inc (US): UK Addendum to the EU standard contractual clauses",
        "CRM Hosting Ltd (IE): UK adequacy regulations (DPA 2018 s.17A)",
    ]
    courier = by_key["client_contracts"].recipients[0]
    assert (courier.kind_name, courier.role_name, courier.third_country) == (
        "Courier",
        "Controller",
        False,
    )
    assert [c.key for c in courier.minimum_fields] == ["user.name"]
    assert by_key["site_statistics"].recipients == ()
    assert by_key["site_statistics"].transfers == ()


def test_retention_in_plain_words(rich_records: RecordsOfProcessing) -> None:
    by_key = {a.key: a for a in rich_records.activities}
    (contracts,) = by_key["client_contracts"].retention
    assert contracts.summary == (
        "6 years from the end of the financial year, then delete — "
        "HMRC requires accounting records for six years."
    )
    (visits,) = by_key["site_statistics"].retention
    assert visits.label == "Website visit records: 13 months from collection, then anonymise"
    # A rule scoped to a data category applies wherever that category is used.
    (health,) = by_key["accessibility"].retention
    assert health.label == (
        "Health notes (Health and Medical Data): 1 year from the end of the contract, then "
        "delete — Kept only while the adjustment is needed."
    )


def test_sources_systems_flags_and_measures(rich_records: RecordsOfProcessing) -> None:
    by_key = {a.key: a for a in rich_records.activities}
    assert [s.description for s in by_key["accessibility"].sources] == [
        "The data subject: told to us by the contact",
        "A third party (Mail Platform Inc): bounce reports",
    ]
    (crm,) = by_key["client_contracts"].systems
    assert (crm.name, crm.country, crm.hosted_by) == ("CRM", "IE", "CRM Hosting Ltd")
    statistics = by_key["site_statistics"]
    assert (statistics.direct_marketing, statistics.analytics, statistics.research) == (
        False,
        True,
        True,
    )
    assert by_key["marketing_email"].direct_marketing
    assert statistics.security_measures == (
        "Encryption at rest and in transit",
        "Staff access by role, reviewed quarterly",
    )


def test_every_schema_value_has_a_human_name() -> None:
    pairs = [
        (LawfulBasis, build.LAWFUL_BASIS_NAMES),
        (Art9Condition, build.ARTICLE_9_NAMES),
        (RecipientKind, build.RECIPIENT_KINDS),
        (TransferMechanism, build.SAFEGUARDS),
        (ClockStart, build.CLOCK_STARTS),
    ]
    for literal, names in pairs:
        assert set(typing.get_args(literal)) <= set(names), literal
