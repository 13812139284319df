"""Each test breaks minimal.yaml in one way and expects exactly one located error for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from policy_edits import problems, where

from opendpo.policy.model.document import LIST_SECTIONS, SINGLE_SECTIONS
from opendpo.policy.model.purposes import Purpose

Broken = Callable[..., Path]

PURPOSE_CATEGORIES = (
    "data_categories: [user.name, user.contact.email]\n    data_subjects: [client_contact]"
)


def test_minimal_policy_is_valid(minimal_policy: Path) -> None:
    from opendpo.policy.loader import load_policy

    assert load_policy(minimal_policy).document.controller.legal_name == "Example Widgets Ltd"


def test_unknown_key_suggests_the_known_one(broken: Broken) -> None:
    path = broken(("  legal_name: Example", "  legal_nme: Example"))
    # Only the typo is reported, not also the absence of the key it misspells.
    assert problems(path) == [
        f"{path}:3:3: unknown key 'legal_nme' in controller (did you mean 'legal_name'?)"
    ]


def test_unknown_key_with_no_close_match_lists_the_allowed_keys(broken: Broken) -> None:
    path = broken(
        ("    lawful_basis: contract\n", "    lawful_basis: contract\n    colour: blue\n")
    )
    allowed = ", ".join(Purpose.model_fields)
    assert problems(path) == [
        f"{where(path, 'colour: blue')}: unknown key 'colour' in purposes[0] (allowed: {allowed})"
    ]


def test_unknown_top_level_section(broken: Broken) -> None:
    path = broken(("rights:\n  available:", "right:\n  available:"))
    known = ", ".join(sorted(SINGLE_SECTIONS + LIST_SECTIONS))
    at = where(path, "right:\n")
    assert problems(path) == [f"{at}: unknown section 'right' (known sections: {known})"]


def test_yaml_syntax_error_points_at_the_problem(broken: Broken) -> None:
    path = broken(("    lines: [1 High Street]", "    lines: [1 High Street"))
    # The unclosed list swallows the next line; the parser stops at its first colon.
    at = where(path, "    town: Luton\n    postcode: LU1 1AA\n  dpo", ":")
    assert problems(path) == [f"{at}: invalid YAML: expected ',' or ']', but got ':'"]


def test_duplicate_yaml_key_points_at_the_second(broken: Broken) -> None:
    name = "  legal_name: Example Widgets Ltd\n"
    path = broken((name, f"{name}  legal_name: Example Gadgets Ltd\n"))
    assert problems(path) == [
        f"{where(path, 'legal_name: Example Gadgets')}: "
        "duplicate key 'legal_name': each key may appear once"
    ]


def test_purpose_naming_an_unknown_data_category(broken: Broken) -> None:
    path = broken(
        (PURPOSE_CATEGORIES, PURPOSE_CATEGORIES.replace("contact.email", "contact.emial"))
    )
    assert problems(path) == [
        f"{where(path, 'user.contact.emial')}: unknown data category 'user.contact.emial'"
    ]


def test_purpose_naming_an_unknown_system(broken: Broken) -> None:
    path = broken(
        ("    systems: [crm]\n    recipients:", "    systems: [crm, billing]\n    recipients:")
    )
    assert problems(path) == [f"{where(path, 'billing')}: unknown system 'billing'"]


def test_purpose_naming_an_unknown_recipient(broken: Broken) -> None:
    path = broken(("    recipients: [courier]", "    recipients: [couier]"))
    assert problems(path) == [f"{where(path, 'couier')}: unknown recipient 'couier'"]


def test_purpose_naming_an_unknown_retention_rule(broken: Broken) -> None:
    path = broken(("    retention: contract_records", "    retention: contract_record"))
    at = where(path, "retention: contract_record\n", "contract_record")
    assert problems(path) == [f"{at}: unknown retention rule 'contract_record'"]


def test_purpose_naming_an_unknown_data_subject(broken: Broken) -> None:
    path = broken(
        ("    data_subjects: [marketing_contact]", "    data_subjects: [newsletter_reader]")
    )
    assert problems(path) == [
        f"{where(path, 'newsletter_reader')}: unknown data subject 'newsletter_reader'"
    ]


def test_consent_purpose_without_consent_terms(broken: Broken) -> None:
    path = broken(
        (
            "    consent:\n      channels: [email]\n"
            "      withdrawal_routes: [preferences, dpo_email]\n",
            "",
        )
    )
    assert problems(path) == [
        f"{where(path, 'lawful_basis: consent', 'consent')}: consent purpose 'marketing_email' "
        "has no withdrawal route: add consent.withdrawal_routes naming contact routes (Art 7(3))"
    ]


def test_consent_purpose_with_empty_withdrawal_routes(broken: Broken) -> None:
    path = broken(("withdrawal_routes: [preferences, dpo_email]", "withdrawal_routes: []"))
    assert problems(path) == [
        f"{where(path, 'withdrawal_routes: []', '[]')}: consent purpose 'marketing_email' has no "
        "withdrawal route: withdrawing must be as easy as giving consent (Art 7(3))"
    ]


def test_consent_withdrawal_route_must_be_a_contact_route(broken: Broken) -> None:
    path = broken(("withdrawal_routes: [preferences, dpo_email]", "withdrawal_routes: [letter]"))
    assert problems(path) == [f"{where(path, 'letter')}: unknown contact route 'letter'"]


def test_legitimate_interest_purpose_without_reasoning(broken: Broken) -> None:
    path = broken(("    lawful_basis: contract", "    lawful_basis: legitimate_interests"))
    assert problems(path) == [
        f"{where(path, 'legitimate_interests')}: legitimate-interest purpose 'client_contracts' "
        "has no reasoning: add legitimate_interest with interest, necessity and balancing"
    ]


def test_special_category_without_an_article_9_condition(broken: Broken) -> None:
    path = broken(
        (
            PURPOSE_CATEGORIES,
            PURPOSE_CATEGORIES.replace("user.contact.email", "user.health_and_medical"),
        )
    )
    assert problems(path) == [
        f"{where(path, 'user.health_and_medical')}: special category 'user.health_and_medical' "
        "needs an Art 9 condition: add special_category_condition (art9_2_a … art9_2_j)"
    ]


def test_recipient_outside_the_uk_without_a_transfer_mechanism(broken: Broken) -> None:
    path = broken(
        ("    minimum_fields: [user.name]", "    minimum_fields: [user.name]\n    country: IN")
    )
    assert problems(path) == [
        f"{where(path, 'country: IN', 'IN')}: recipient 'courier' is in IN, outside the UK, and "
        "has no transfer_mechanism (adequacy, idta, uk_addendum, binding_corporate_rules)"
    ]


def test_eu_standard_contractual_clauses_alone_are_not_enough(broken: Broken) -> None:
    path = broken(
        (
            "    minimum_fields: [user.name]",
            "    minimum_fields: [user.name]\n    country: IN\n    transfer_mechanism: eu_sccs",
        )
    )
    assert problems(path) == [
        f"{where(path, 'eu_sccs')}: the EU SCCs alone stopped being valid for UK transfers on "
        "2024-03-21: use uk_addendum (the UK Addendum to the EU SCCs) or idta"
    ]


def test_adequacy_claimed_for_a_country_without_it(broken: Broken) -> None:
    path = broken(
        (
            "    minimum_fields: [user.name]",
            "    minimum_fields: [user.name]\n    country: IN\n    transfer_mechanism: adequacy",
        )
    )
    assert problems(path) == [
        f"{where(path, 'adequacy')}: IN has no UK adequacy regulations: use idta or uk_addendum"
    ]


def test_adequacy_is_accepted_for_an_adequate_country(broken: Broken) -> None:
    from opendpo.policy.loader import load_policy

    path = broken(
        (
            "    minimum_fields: [user.name]",
            "    minimum_fields: [user.name]\n    country: IE\n    transfer_mechanism: adequacy",
        )
    )
    assert load_policy(path).document.recipient("courier").country == "IE"


def test_retention_period_must_be_an_iso_duration(broken: Broken) -> None:
    path = broken(("    period: P2Y", "    period: 2 years"))
    assert problems(path) == [
        f"{where(path, '2 years')}: retention[1].period: '2 years' is not an ISO 8601 period in "
        "years, months, weeks or days (e.g. P6Y, P18M)"
    ]


def test_dataset_reference_to_a_missing_field(broken: Broken) -> None:
    path = broken(("field: contacts.id", "field: contacts.uuid"))
    # Only the reference is reported: the collection it fails to link is not blamed as well.
    assert problems(path) == [
        f"{where(path, 'contacts.uuid')}: reference to 'crm_db.contacts.uuid' names no declared "
        "dataset field"
    ]


def test_dataset_reference_to_a_missing_dataset(broken: Broken) -> None:
    path = broken(("- dataset: crm_db", "- dataset: crm"))
    at = where(path, "dataset: crm\n", "crm")
    assert problems(path) == [
        f"{at}: reference to 'crm.contacts.id' names no declared dataset field"
    ]


def test_personal_data_no_identity_reaches(broken: Broken) -> None:
    path = broken(
        (
            "              references:\n                - dataset: crm_db\n"
            "                  field: contacts.id\n                  direction: from\n",
            "              primary_key: true\n",
        )
    )
    assert problems(path) == [
        f"{where(path, 'name: notes')}: collection 'crm_db.notes' holds personal data but no "
        "identity reaches it: mark an identity field (fides_meta.identity) or add references"
    ]


def test_dataset_field_errors_point_at_the_field_as_written(broken: Broken) -> None:
    # fideslang sorts fields by name ('body' before 'contact_id'); the location must not follow.
    path = broken(("[user.content.private]", "[user.content.privat]"))
    assert problems(path) == [
        f"{where(path, 'user.content.privat')}: unknown data category 'user.content.privat'"
    ]


def test_duplicate_purpose_key(broken: Broken, minimal_text: str) -> None:
    first = minimal_text.index("  - key: client_contracts")
    block = minimal_text[first : minimal_text.index("  - key: marketing_email")]
    path = broken(("\nsystems:\n", f"{block}\nsystems:\n"))
    second = where(path, block + "\nsystems:", "client_contracts")
    first_at = where(path, "purposes:\n  - key: client_contracts", "key")
    assert problems(path) == [
        f"{second}: purpose 'client_contracts' is already declared at {first_at}"
    ]


def test_notice_version_missing_from_the_change_log(broken: Broken) -> None:
    path = broken(('  version: "1.0"\n  effective', '  version: "1.1"\n  effective'))
    at = where(path, '"1.1"')
    assert problems(path) == [f"{at}: notice version '1.1' has no entry in notice.changes"]


def test_advertising_cookies_without_consent(broken: Broken) -> None:
    cookies = (
        "cookies:\n  categories:\n    - key: advertising\n      name: Advertising\n"
        "      description: Adverts on other sites.\n      consent: objection\n\n"
    )
    path = broken(("\ndataset:\n", f"\n{cookies}dataset:\n"))
    assert problems(path) == [
        f"{where(path, 'objection')}: advertising cookies need opt-in consent (PECR reg 6): "
        "set consent: required"
    ]


def test_missing_section_is_named(broken: Broken, minimal_text: str) -> None:
    rights = minimal_text[minimal_text.index("rights:\n") : minimal_text.index("dataset:\n")]
    path = broken((rights, ""))
    # Nothing in any file marks where a missing section should have been.
    assert problems(path) == ["missing required key 'rights' in the policy"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert problems(path) == [f"{path}:1:1: the file is empty"]


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- controller\n- purposes\n", encoding="utf-8")
    assert problems(path) == [f"{path}:1:1: the top level must be a mapping of sections"]


def test_list_section_given_a_mapping(broken: Broken) -> None:
    path = broken(
        (
            "systems:\n  - key: crm\n    name: CRM\n    kind: crm\n    datasets: [crm_db]\n",
            "systems: crm\n",
        )
    )
    at = where(path, "systems: crm", "crm")
    assert problems(path) == [f"{at}: 'systems' must be a list"]


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert problems(path) == [f"{path}: no such file or folder"]


def test_unknown_key_inside_a_fides_dataset_is_an_error(broken: Broken) -> None:
    # fideslang itself ignores unknown keys; a typo here would silently drop the categories.
    typo = "          - name: name\n            data_categores: [user.name]"
    path = broken(("          - name: name\n            data_categories: [user.name]", typo))
    assert problems(path) == [
        f"{where(path, 'data_categores')}: unknown key 'data_categores' in "
        "dataset[0].collections[0].fields[2] (did you mean 'data_categories'?); "
        "the fideslang dataset format has no such key"
    ]


def test_unknown_key_in_a_dataset_field_meta_is_an_error(broken: Broken) -> None:
    path = broken(("              identity: email", "              identiti: email"))
    found = problems(path)
    assert (
        f"{where(path, 'identiti')}: unknown key 'identiti' in "
        "dataset[0].collections[0].fields[1].fides_meta (did you mean 'identity'?); "
        "the fideslang dataset format has no such key"
    ) in found
    # Without the identity nothing reaches the collections, and that is reported too.
    assert any("holds personal data but no identity reaches it" in line for line in found)
