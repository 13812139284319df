"""Erasure strategies and restriction flags: exact values for the suite's fixed keys.

Expected hashes were worked out apart from OpenDPO (hashlib and hmac on the test keys):
SHA-256 of the text, HMAC-SHA-256 under HMAC(mac_key, "opendpo:erasure"), and random strings
drawn from HMAC(mac_key, "opendpo:erasure-random") over request, collection, row key and field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from masking_specs import CUSTOMERS, JANE, JOHN, KEYED_JANE, SHA_JANE, context, erasure

from opendpo.connectors.base import Change, ChangeAction, CollectionSpec, FieldSpec
from opendpo.execution.masking import (
    RestrictionProblem,
    decide,
    mask,
    plan_erasure,
    plan_restriction,
)
from opendpo.policy.model.erasure import Masking, Restriction

KEYED_JOHN = "ee393fc079b370cb280694ef3f1bb5c9c596db7a8e57493e701590ca77177a05"
EMAIL = CUSTOMERS.field("email")


def masked(strategy: str | dict[str, Any], value: Any, spec: FieldSpec = EMAIL) -> Any:
    row = context().for_row("crm_db.contacts", {"id": 1})
    return mask(Masking.model_validate(strategy), value, field=spec, context=row)


# --- each strategy --------------------------------------------------------------------------


def test_null_clears_and_fixed_writes_its_value() -> None:
    assert masked("null", "jane@example.com") is None
    assert masked({"strategy": "fixed", "value": "erased"}, "jane@example.com") == "erased"
    assert masked({"strategy": "fixed", "value": []}, ["Jane Example"]) == []


def test_hash_is_the_sha256_of_the_value() -> None:
    assert masked("hash", "jane@example.com") == SHA_JANE
    # Anything but a string is hashed as compact JSON with sorted keys.
    address = {"street": "1 Example Street", "city": "Luton"}
    assert masked("hash", address) == (
        "901aa09e83e5a06a422a4cc95c5fd0edc512ce45fc5749542e6f4e9c936baf25"
    )
    assert masked("hash", 42) == "73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049"


def test_keyed_hash_is_the_same_for_the_same_value_everywhere() -> None:
    assert masked("keyed_hash", "jane@example.com") == KEYED_JANE
    # Another request, collection, row and field: the same address masks the same (joins hold).
    elsewhere = context("req-2").for_row("billing_db.customers", {"id": 9})
    field = FieldSpec("billing_email", ("user.contact.email",))
    assert mask(
        Masking(strategy="keyed_hash"), "jane@example.com", field=field, context=elsewhere
    ) == (KEYED_JANE)


def test_random_string_is_fixed_by_request_collection_row_and_field() -> None:
    first_name = CUSTOMERS.field("first_name")
    last_name = CUSTOMERS.field("last_name")
    strategy = Masking(strategy="random_string")

    def random(request: str, row: int, field: FieldSpec, value: str) -> str:
        where = context(request).for_row("crm_db.contacts", {"id": row})
        result: str = mask(strategy, value, field=field, context=where)
        return result

    assert random("req-1", 1, first_name, "Jane") == "y69r"
    assert random("req-1", 1, first_name, "Jane") == "y69r"  # a retried step writes the same
    assert random("req-1", 1, last_name, "Example") == "hax45de"
    assert random("req-1", 2, first_name, "Jane") == "4on2"
    assert random("req-2", 1, first_name, "Jane") == "r1ov"
    # A set length, longer than one HMAC block gives.
    where = context().for_row("crm_db.contacts", {"id": 1})
    long = mask(Masking(strategy="random_string", length=40), "J", field=first_name, context=where)
    assert long == "y69rtdkrfzv1rz5air2iaztbnl1wdli5i7ape0cg"


def test_delete_row_writes_no_value() -> None:
    with pytest.raises(ValueError, match="delete_row removes the whole row"):
        masked("delete_row", "jane@example.com")


@pytest.mark.parametrize(
    ("data_type", "strategy", "expected"),
    [
        ("integer", "hash", None),
        ("integer", {"strategy": "random_string"}, None),
        ("integer", {"strategy": "fixed", "value": "x"}, None),
        ("integer", {"strategy": "fixed", "value": True}, None),
        ("integer", {"strategy": "fixed", "value": 0}, 0),
        ("float", {"strategy": "fixed", "value": 0}, 0),
        ("boolean", {"strategy": "fixed", "value": False}, False),
        ("string", "hash", SHA_JANE),
        ("object_id", "keyed_hash", KEYED_JANE),
        ("string[]", "hash", None),
        ("string[]", {"strategy": "fixed", "value": ["x"]}, ["x"]),
        ("object", {"strategy": "fixed", "value": {}}, {}),
        ("object", "hash", None),
    ],
)
def test_a_declared_data_type_only_receives_values_of_that_type(
    data_type: str, strategy: str | dict[str, Any], expected: Any
) -> None:
    typed = dataclasses.replace(EMAIL, data_type=data_type)
    assert masked(strategy, "jane@example.com", typed) == expected


# --- which strategy applies -------------------------------------------------------------------


def test_the_most_specific_category_wins_and_a_field_strategy_wins_over_all() -> None:
    section = erasure(
        default_strategy="hash",
        categories={
            "user": "null",
            "user.contact": "keyed_hash",
            "user.contact.address": {"strategy": "fixed", "value": "redacted"},
        },
        fields={"shop_db.customers.last_name": {"strategy": "fixed", "value": "Former"}},
    )
    plan = plan_erasure(CUSTOMERS, [JANE], erasure=section, context=context())
    assert plan.changes == [
        Change(
            CUSTOMERS,
            {"id": 1},
            ChangeAction.UPDATE,
            {
                "email": KEYED_JANE,
                "first_name": None,
                "last_name": "Former",
                "age": None,
                "opted_in": None,
                "address.street": "redacted",
                "address.city": "redacted",
            },
        )
    ]


def test_covers_limits_the_categories_but_not_a_named_field() -> None:
    section = erasure(
        covers=["user.contact"],
        fields={"shop_db.customers.address.country": {"strategy": "fixed", "value": "XX"}},
    )
    plan = plan_erasure(CUSTOMERS, [JANE], erasure=section, context=context())
    assert [dict(c.values) for c in plan.changes] == [
        {"email": None, "address.street": None, "address.city": None, "address.country": "XX"}
    ]


def test_empty_fields_and_fields_already_masked_need_no_change() -> None:
    section = erasure(categories={"user.contact.email": {"strategy": "fixed", "value": "x@y"}})
    already = {**JOHN, "email": "x@y", "first_name": None}
    plan = plan_erasure(CUSTOMERS, [already], erasure=section, context=context())
    assert plan.changes == []
    assert plan.rows == 1
    assert plan.changed == {}


def test_planning_again_gives_the_same_changes() -> None:
    section = erasure(default_strategy="random_string", categories={"user.contact": "keyed_hash"})
    rows = [JANE, JOHN]
    first = plan_erasure(CUSTOMERS, rows, erasure=section, context=context())
    again = plan_erasure(CUSTOMERS, rows, erasure=section, context=context())
    assert first.changes == again.changes
    assert [(dict(c.key), dict(c.values)) for c in first.changes] == [
        ({"id": 2}, {"email": KEYED_JOHN, "first_name": "ae0h"}),
        (
            {"id": 1},
            {
                "email": KEYED_JANE,
                "first_name": "dku1",
                "last_name": "b4w8fad",
                # Typed fields cannot take a string: cleared instead.
                "age": None,
                "opted_in": None,
                # Under user.contact: keyed hashes of "1 Example Street" and "Luton".
                "address.street": (
                    "22e07ac41093c12a81219240692e20f368b973fe3a2d1d0e694c418dfd2329cc"
                ),
                "address.city": "218f0414e62f1f797691651e899c866c7c20a54af754a824e61869a74dafd357",
            },
        ),
    ]


# --- restriction flags -------------------------------------------------------------------------

FLAGGED = CollectionSpec(
    "crm_db",
    "contacts",
    (
        FieldSpec("id", ("system.operations",), primary_key=True),
        FieldSpec("email", ("user.contact.email",), identity="email"),
        FieldSpec("processing_restricted", ("system.operations",)),
        FieldSpec("restriction", ("system.operations",)),
    ),
)
FLAGS = Restriction.model_validate(
    {
        "flags": [
            {"field": "crm_db.contacts.processing_restricted"},
            {"field": "crm_db.contacts.restriction", "restricted": "art18", "lifted": None},
        ]
    }
)


def test_restricting_sets_each_flag_the_collection_holds() -> None:
    rows = [
        {"id": 1, "email": "jane@example.com", "processing_restricted": False, "restriction": None},
        {"id": 2, "email": "jane@example.com", "processing_restricted": True, "restriction": None},
        {
            "id": 3,
            "email": "jane@example.com",
            "processing_restricted": True,
            "restriction": "art18",
        },
        # 1 is not true: a flag that only compares equal is still set.
        {"id": 4, "email": "jane@example.com", "processing_restricted": 1, "restriction": "art18"},
    ]
    assert plan_restriction(FLAGGED, rows, restriction=FLAGS, restrict=True) == [
        Change(
            FLAGGED,
            {"id": 1},
            ChangeAction.UPDATE,
            {"processing_restricted": True, "restriction": "art18"},
        ),
        Change(FLAGGED, {"id": 2}, ChangeAction.UPDATE, {"restriction": "art18"}),
        Change(FLAGGED, {"id": 4}, ChangeAction.UPDATE, {"processing_restricted": True}),
    ]
    assert plan_restriction(FLAGGED, rows, restriction=FLAGS, restrict=False) == [
        Change(FLAGGED, {"id": 2}, ChangeAction.UPDATE, {"processing_restricted": False}),
        Change(
            FLAGGED,
            {"id": 3},
            ChangeAction.UPDATE,
            {"processing_restricted": False, "restriction": None},
        ),
        Change(
            FLAGGED,
            {"id": 4},
            ChangeAction.UPDATE,
            {"processing_restricted": False, "restriction": None},
        ),
    ]


def test_a_collection_without_a_flag_gets_no_change() -> None:
    assert plan_restriction(CUSTOMERS, [JANE], restriction=FLAGS, restrict=True) == []


def test_a_flag_the_dataset_does_not_hold_is_an_error() -> None:
    wrong = Restriction.model_validate({"flags": [{"field": "crm_db.contacts.restricted"}]})
    with pytest.raises(RestrictionProblem) as raised:
        plan_restriction(FLAGGED, [], restriction=wrong, restrict=True)
    assert raised.value.message == (
        "restriction flag crm_db.contacts.restricted is not a field of crm_db.contacts: add it "
        "to the dataset, or correct restriction.flags"
    )


def test_decide_is_what_the_plan_applies() -> None:
    decision = decide(CUSTOMERS, erasure=erasure(covers=["user.name"]))
    assert [(d.field.path, d.masking) for d in decision.fields] == [
        ("first_name", Masking(strategy="null")),
        ("last_name", Masking(strategy="null")),
    ]
