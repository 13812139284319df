"""The dataset graph: what a request reaches from its identities, and in which order."""

from __future__ import annotations

from pathlib import Path

import pytest
from fideslang.models import Dataset

from opendpo.connectors.base import CollectionSpec, dataset_specs
from opendpo.execution.graph import GraphProblem, traverse
from opendpo.policy.loader import load_policy

ROOT = Path(__file__).resolve().parents[2]


def connect_ib() -> list[CollectionSpec]:
    document = load_policy(ROOT / "policies" / "connect-ib.yaml").document
    return [c for d in document.dataset for c in dataset_specs(d)]


def dataset(key: str, collections: list[dict[str, object]]) -> list[CollectionSpec]:
    return dataset_specs(Dataset.model_validate({"fides_key": key, "collections": collections}))


def test_connect_ib_by_email_reads_parents_before_children() -> None:
    found = traverse(connect_ib(), ["email"])
    order = [f"{d}.{c}" for d, c in found.order]
    assert order == [
        "billing_db.customer_contacts",
        "billing_db.customers",
        "crm_db.contacts",
        "email_platform.subscribers",
        "email_platform.suppressions",
        "website_db.form_submissions",
        "billing_db.invoices",
        "crm_db.enquiries",
        "crm_db.organisations",
        "crm_db.quotes",
        "billing_db.deliveries",
        "billing_db.payments",
        "crm_db.credit_checks",
    ]
    # Invoices are looked up by the ids of the customers found, enquiries by contacts' ids.
    invoices = found.incoming[("billing_db", "invoices")]
    assert [(e.source, e.source_field, e.target_field) for e in invoices] == [
        (("billing_db", "customers"), "id", "customer_id")
    ]
    organisations = found.incoming[("crm_db", "organisations")]
    assert [(e.source, e.source_field, e.target_field) for e in organisations] == [
        (("crm_db", "contacts"), "organisation_id", "id")
    ]
    assert found.datasets == ["billing_db", "crm_db", "email_platform", "website_db"]
    # A client's contacts are found by their own email only, never through the customer they
    # share with colleagues.
    assert found.incoming[("billing_db", "customer_contacts")] == []
    assert found.seeds[("billing_db", "customer_contacts")] == [("email", "email")]


def test_visits_are_reached_only_with_a_cookie_identity() -> None:
    by_email = traverse(connect_ib(), ["email"])
    assert ("website_db", "visits") not in by_email.order
    assert by_email.unreachable() == [("website_db", "visits")]
    with_cookie = traverse(connect_ib(), ["email", "visitor_id"])
    assert ("website_db", "visits") in with_cookie.order
    assert with_cookie.unreachable() == []


def test_a_dataset_fed_by_another_waits_for_it() -> None:
    shop = dataset(
        "shop",
        [{"name": "customers", "fields": [
            {"name": "id", "fides_meta": {"primary_key": True}},
            {"name": "email", "data_categories": ["user.contact.email"],
             "fides_meta": {"identity": "email"}},
        ]}],
    )  # fmt: skip
    support = dataset(
        "support",
        [{"name": "tickets", "fields": [
            {"name": "customer_id", "fides_meta": {"references": [
                {"dataset": "shop", "field": "customers.id", "direction": "from"}]}},
            {"name": "body", "data_categories": ["user.content.private"]},
        ]}],
    )  # fmt: skip
    found = traverse([*support, *shop], ["email"])
    assert found.datasets == ["shop", "support"]
    assert found.dataset_needs == {"shop": set(), "support": {"shop"}}
    assert found.outgoing_fields(("shop", "customers")) == {"id"}


def test_a_loop_is_cut_at_the_collection_nearest_an_identity() -> None:
    # a.x -> b.y (to) and b.z -> a.w (to): a loop; a holds the identity, so a is read first
    # and b's edge back into a is not followed.
    specs = dataset(
        "d",
        [
            {"name": "a", "fields": [
                {"name": "email", "data_categories": ["user.contact.email"],
                 "fides_meta": {"identity": "email"}},
                {"name": "x", "fides_meta": {"references": [
                    {"dataset": "d", "field": "b.y", "direction": "to"}]}},
                {"name": "w"},
            ]},
            {"name": "b", "fields": [
                {"name": "y"},
                {"name": "z", "data_categories": ["user.name"], "fides_meta": {"references": [
                    {"dataset": "d", "field": "a.w", "direction": "to"}]}},
            ]},
        ],
    )  # fmt: skip
    found = traverse(specs, ["email"])
    assert found.order == [("d", "a"), ("d", "b")]
    assert found.incoming[("d", "a")] == []
    assert [e.source for e in found.incoming[("d", "b")]] == [("d", "a")]


def test_datasets_feeding_each_other_cannot_be_run_one_system_at_a_time() -> None:
    left = dataset(
        "left",
        [{"name": "people", "fields": [
            {"name": "email", "data_categories": ["user.contact.email"],
             "fides_meta": {"identity": "email"}},
            {"name": "code", "fides_meta": {"references": [
                {"dataset": "right", "field": "codes.code", "direction": "to"}]}},
            {"name": "back"},
        ]}, {"name": "later", "fields": [
            {"name": "key", "fides_meta": {"references": [
                {"dataset": "right", "field": "codes.other", "direction": "from"}]}},
        ]}],
    )  # fmt: skip
    right = dataset(
        "right",
        [{"name": "codes", "fields": [{"name": "code"}, {"name": "other"}]}],
    )
    with pytest.raises(GraphProblem, match="left, right feed each other"):
        traverse([*left, *right], ["email"])


def test_skip_processing_collections_are_left_out() -> None:
    specs = dataset(
        "d",
        [{"name": "archive", "fides_meta": {"skip_processing": True}, "fields": [
            {"name": "email", "data_categories": ["user.contact.email"],
             "fides_meta": {"identity": "email"}}]}],
    )  # fmt: skip
    assert traverse(specs, ["email"]).order == []
