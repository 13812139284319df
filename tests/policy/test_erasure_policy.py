"""The erasure and restriction sections: what they accept, and the located errors they give."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from policy_edits import Edit, problems, where

from opendpo.policy.loader import load_policy
from opendpo.policy.model.erasure import (
    Erasure,
    Exemption,
    Masking,
    Restriction,
    RestrictionFlag,
)

Broken = Callable[..., Path]
DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
RIGHTS = "\nrights:\n"
# contacts.email made the primary key, as on an email platform keyed by address.
EMAIL_KEY: Edit = (
    "          - name: email\n"
    "            data_categories: [user.contact.email]\n"
    "            fides_meta:\n"
    "              identity: email\n",
    "          - name: email\n"
    "            data_categories: [user.contact.email]\n"
    "            fides_meta:\n"
    "              identity: email\n"
    "              primary_key: true\n",
)
# A restriction flag and a typed field in contacts.
FLAG_FIELDS: Edit = (
    "          - name: name\n            data_categories: [user.name]\n",
    "          - name: name\n            data_categories: [user.name]\n"
    "          - name: processing_restricted\n"
    "            data_categories: [system.operations]\n"
    "            fides_meta: {data_type: boolean}\n"
    "          - name: do_not_contact\n"
    "            data_categories: [system.operations]\n"
    "            fides_meta: {data_type: boolean}\n"
    "          - name: age\n"
    "            data_categories: [user.demographic.age_range]\n"
    "            fides_meta: {data_type: integer}\n"
    "          - name: address\n"
    "            fields:\n"
    "              - name: city\n"
    "                data_categories: [user.contact.address.city]\n",
)


def sections(text: str) -> Edit:
    """An edit adding top-level sections just before `rights:`."""
    return (RIGHTS, f"\n{text}{RIGHTS}")


def errors_of(path: Path) -> list[str]:
    return problems(path)


# --- what the sections accept -------------------------------------------------------------


def test_a_policy_without_the_sections_erases_every_personal_field_with_null(
    minimal_policy: Path,
) -> None:
    document = load_policy(minimal_policy).document
    assert document.erasure == Erasure(
        covers=["user"], default_strategy=Masking(strategy="null"), categories={}, fields={}
    )
    assert document.restriction == Restriction(flags=[])


def test_strategies_are_written_by_name_or_with_their_settings(broken: Broken) -> None:
    path = broken(
        FLAG_FIELDS,
        sections(
            "erasure:\n"
            "  covers: [user.contact, user.name]\n"
            "  default_strategy: null\n"
            "  categories:\n"
            "    user.contact.email: keyed_hash\n"
            "    user.name: {strategy: fixed, value: Former client}\n"
            "  fields:\n"
            "    crm_db.notes.body: {strategy: random_string, length: 12}\n"
            "    crm_db.contacts.address.city: hash\n"
            "  exemptions:\n"
            "    - collection: crm_db.contacts\n"
            "      retention: contract_records\n"
            "      keep: [name, address]\n"
            "      reason: The contract names the contact.\n"
            "restriction:\n"
            "  flags:\n"
            "    - field: crm_db.contacts.processing_restricted\n"
        ),
    )
    loaded = load_policy(path)
    assert loaded.warnings == []
    assert loaded.document.erasure == Erasure(
        covers=["user.contact", "user.name"],
        default_strategy=Masking(strategy="null"),
        categories={
            "user.contact.email": Masking(strategy="keyed_hash"),
            "user.name": Masking(strategy="fixed", value="Former client"),
        },
        fields={
            "crm_db.notes.body": Masking(strategy="random_string", length=12),
            "crm_db.contacts.address.city": Masking(strategy="hash"),
        },
        exemptions=[
            Exemption(
                collection="crm_db.contacts",
                retention="contract_records",
                keep=["name", "address"],
                reason="The contract names the contact.",
            )
        ],
    )
    assert loaded.document.restriction == Restriction(
        flags=[
            RestrictionFlag(
                field="crm_db.contacts.processing_restricted", restricted=True, lifted=False
            )
        ]
    )


def test_the_documented_examples_load(broken: Broken) -> None:
    text = DOC.read_text(encoding="utf-8")
    erasure = re.search(r"```yaml\n(erasure:\n.*?)```", text, re.DOTALL)
    restriction = re.search(r"```yaml\n(restriction:\n.*?)```", text, re.DOTALL)
    assert erasure is not None and restriction is not None
    loaded = load_policy(broken(FLAG_FIELDS, sections(erasure[1] + restriction[1])))
    assert loaded.warnings == []
    assert loaded.document.erasure.default_strategy == Masking(strategy="delete_row")
    assert [(f.field, f.marks) for f in loaded.document.restriction.flags] == [
        ("crm_db.contacts.processing_restricted", "restriction"),
        ("crm_db.contacts.do_not_contact", "objection"),
    ]


# --- the schema -----------------------------------------------------------------------------


def test_an_unknown_strategy_is_a_schema_error(broken: Broken) -> None:
    path = broken(sections("erasure:\n  default_strategy: nul\n"))
    assert errors_of(path) == [
        f"{where(path, 'default_strategy: nul', 'nul')}: erasure.default_strategy.strategy: "
        "Input should be 'null', 'fixed', 'random_string', 'hash', 'keyed_hash' or 'delete_row'"
    ]


def test_the_sections_may_be_declared_only_once(broken: Broken, tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    first = broken(sections("erasure:\n  default_strategy: hash\n"), name="policy/a.yaml")
    second = folder / "b.yaml"
    second.write_text("erasure:\n  default_strategy: null\n", encoding="utf-8")
    assert errors_of(folder) == [
        f"{second}:1:1: 'erasure' is already declared at {where(first, 'erasure:', 'erasure')}"
    ]


# --- strategies and the fields they name ----------------------------------------------------


def test_a_field_strategy_must_name_a_declared_field(broken: Broken) -> None:
    path = broken(
        sections(
            "erasure:\n"
            "  fields:\n"
            "    crm_db.contacts.emial: hash\n"
            "    crm_db.contact.email: hash\n"
            "    crm.contacts.email: hash\n"
        )
    )
    assert errors_of(path) == [
        f"{where(path, 'crm_db.contacts.emial')}: collection 'crm_db.contacts' has no field "
        "'emial' (did you mean 'email'?)",
        f"{where(path, 'crm_db.contact.email')}: dataset 'crm_db' has no collection 'contact' "
        "(did you mean 'contacts'?)",
        f"{where(path, 'crm.contacts.email')}: 'crm.contacts.email' names no declared dataset "
        "(datasets: crm_db)",
    ]


def test_a_field_strategy_names_a_field_not_a_collection(broken: Broken) -> None:
    path = broken(sections("erasure:\n  fields:\n    crm_db.contacts: hash\n"))
    assert errors_of(path) == [
        f"{where(path, 'crm_db.contacts: hash', 'hash')}: erasure.fields.crm_db.contacts: "
        "String should match pattern '^[^.\\s]+(\\.[^.\\s]+){2,}$'"
    ]


def test_nested_fields_are_named_one_by_one(broken: Broken) -> None:
    path = broken(FLAG_FIELDS, sections("erasure:\n  fields:\n    crm_db.contacts.address: null\n"))
    assert errors_of(path) == [
        f"{where(path, 'crm_db.contacts.address: null')}: 'crm_db.contacts.address' holds "
        "nested fields: name the ones to mask (crm_db.contacts.address.city)"
    ]


def test_a_strategy_settings_must_fit_it(broken: Broken) -> None:
    path = broken(
        sections(
            "erasure:\n"
            "  default_strategy: fixed\n"
            "  categories:\n"
            "    user.name: {strategy: hash, value: x}\n"
            "  fields:\n"
            "    crm_db.notes.body: {strategy: keyed_hash, length: 8}\n"
        )
    )
    assert errors_of(path) == [
        f"{where(path, 'default_strategy: fixed', 'fixed')}: the fixed strategy needs a value: "
        "write {strategy: fixed, value: ...} (to clear the field, use null)",
        f"{where(path, 'value: x}', 'x')}: value is only for the fixed strategy, not hash",
        f"{where(path, 'length: 8', '8')}: length is only for the random_string strategy, "
        "not keyed_hash",
    ]


def test_a_field_strategy_must_fit_the_declared_data_type(broken: Broken) -> None:
    path = broken(
        FLAG_FIELDS,
        sections(
            "erasure:\n"
            "  fields:\n"
            "    crm_db.contacts.age: keyed_hash\n"
            "    crm_db.contacts.processing_restricted: {strategy: fixed, value: 'no'}\n"
        ),
    )
    no = where(path, "value: 'no'", "'no'")
    assert errors_of(path) == [
        f"{where(path, 'crm_db.contacts.age: keyed_hash', 'keyed_hash')}: crm_db.contacts.age: "
        "an integer field cannot hold the string keyed_hash writes (fides_meta.data_type)",
        f"{no}: crm_db.contacts.processing_restricted: "
        'a boolean field cannot hold "no" (fides_meta.data_type)',
    ]


def test_categories_must_be_known_and_covered(broken: Broken) -> None:
    path = broken(
        sections(
            "erasure:\n"
            "  covers: [user.contact, user.contact.emial]\n"
            "  categories:\n"
            "    user.nme: hash\n"
            "    user.financial: hash\n"
        )
    )
    assert errors_of(path) == [
        f"{where(path, 'user.contact.emial')}: unknown data category 'user.contact.emial'",
        f"{where(path, 'user.nme')}: unknown data category 'user.nme'",
    ]
    fixed = (
        path.read_text(encoding="utf-8")
        .replace(", user.contact.emial", "")
        .replace("    user.nme: hash\n", "")
    )
    path.write_text(fixed, encoding="utf-8")
    assert [str(w) for w in load_policy(path).warnings] == [
        f"{where(path, 'user.financial: hash', 'hash')}: warning: the strategy for "
        "'user.financial' never applies: erasure.covers (user.contact) does not include it"
    ]


# --- exemptions ------------------------------------------------------------------------------


def test_an_exemption_names_a_collection_its_fields_and_a_retention_rule(broken: Broken) -> None:
    path = broken(
        sections(
            "erasure:\n"
            "  exemptions:\n"
            "    - collection: crm_db.contacts\n"
            "      retention: contract_record\n"
            "      keep: [id, nme]\n"
            "      reason: The contract names the contact.\n"
            "    - collection: crm_db.contacts\n"
            "      retention: contract_records\n"
            "      reason: Twice.\n"
            "    - collection: crm_db.notes.body\n"
            "      retention: contract_records\n"
            "      reason: A field.\n"
            "    - collection: crm_db.letters\n"
            "      retention: contract_records\n"
            "      reason: Nowhere.\n"
        )
    )
    first = where(path, "- collection: crm_db.contacts\n      retention: contract_record\n")
    second = where(path, "crm_db.contacts\n      retention: contract_records")
    assert errors_of(path) == [
        f"{where(path, 'contract_record' + chr(10))}: exemption names unknown retention rule "
        "'contract_record': data is kept under a rule declared in retention",
        f"{where(path, 'nme]')}: collection 'crm_db.contacts' has no field 'nme' "
        "(did you mean 'name'?)",
        f"{second}: collection 'crm_db.contacts' already has an exemption at {first}",
        f"{where(path, 'crm_db.notes.body')}: 'crm_db.notes.body' is a field, not a "
        "collection: name the collection and list the fields kept under keep",
        f"{where(path, 'crm_db.letters')}: dataset 'crm_db' has no collection 'letters'",
    ]


# --- fields an erasure may not mask -------------------------------------------------------------


def test_no_strategy_may_mask_a_primary_key_or_a_reference(broken: Broken) -> None:
    path = broken(
        EMAIL_KEY,
        sections(
            "erasure:\n  default_strategy: hash\n  fields:\n    crm_db.notes.contact_id: null\n"
        ),
    )
    rule = (
        "which no strategy may mask: keep it (an exemption's keep) or delete its row (delete_row)"
    )
    assert errors_of(path) == [
        f"{where(path, 'default_strategy: hash', 'hash')}: crm_db.contacts.email is the "
        f"primary key, {rule}",
        f"{where(path, 'crm_db.notes.contact_id: null', 'null')}: crm_db.notes.contact_id is "
        f"a reference to another collection, {rule}",
    ]


def test_the_error_points_at_the_category_rule_that_would_mask_the_key(broken: Broken) -> None:
    path = broken(
        EMAIL_KEY, sections("erasure:\n  categories:\n    user.contact: {strategy: hash}\n")
    )
    assert errors_of(path) == [
        f"{where(path, 'user.contact: {strategy: hash}', '{')}: crm_db.contacts.email is the "
        "primary key, which no strategy may mask: keep it (an exemption's keep) or delete its "
        "row (delete_row)"
    ]


@pytest.mark.parametrize(
    "erasure",
    [
        # The row goes, key and all.
        "erasure:\n  default_strategy: delete_row\n",
        "erasure:\n  fields:\n    crm_db.contacts.email: delete_row\n",
        # The row stays and keeps its key.
        "erasure:\n  exemptions:\n    - collection: crm_db.contacts\n"
        "      retention: contract_records\n      keep: [email]\n      reason: Kept.\n",
    ],
)
def test_a_primary_key_may_be_kept_or_deleted_with_its_row(broken: Broken, erasure: str) -> None:
    assert load_policy(broken(EMAIL_KEY, sections(erasure))).warnings == []


def test_without_an_erasure_section_the_defaults_raise_nothing(broken: Broken) -> None:
    # Fides datasets must load unchanged: the dry run shows the key kept instead.
    assert load_policy(broken(EMAIL_KEY)).warnings == []


# --- restriction flags ---------------------------------------------------------------------------


def test_restriction_flags_must_be_fields_opendpo_may_set(broken: Broken) -> None:
    path = broken(
        FLAG_FIELDS,
        sections(
            "restriction:\n"
            "  flags:\n"
            "    - field: crm_db.contacts.processing_restricted\n"
            "      restricted: 'yes'\n"
            "    - field: crm_db.contacts.id\n"
            "    - field: crm_db.contacts.restricted\n"
            "    - field: crm_db.contacts.processing_restricted\n"
        ),
    )
    first = where(path, "- field: crm_db.contacts.processing_restricted\n      restricted")
    again = where(path, "crm_db.contacts.processing_restricted\n\nrights:")
    yes = where(path, "restricted: 'yes'", "'yes'")
    assert errors_of(path) == [
        f"{yes}: crm_db.contacts.processing_restricted: "
        'a boolean field cannot hold "yes" (fides_meta.data_type)',
        f"{where(path, 'crm_db.contacts.id')}: crm_db.contacts.id is the primary key: a "
        "restriction flag must be a field OpenDPO may set",
        f"{where(path, 'crm_db.contacts.restricted')}: collection 'crm_db.contacts' has no "
        "field 'restricted' (did you mean 'processing_restricted'?)",
        f"{again}: restriction flag 'crm_db.contacts.processing_restricted' is already "
        f"declared at {first}",
    ]
