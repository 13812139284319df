"""Erasure plans: exemptions, deleted rows, fields kept whole, and the dry run's words."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from masking_specs import (
    CUSTOMERS,
    INVOICE,
    INVOICES,
    JANE,
    JOHN,
    KEYED_JANE,
    ROOT,
    SIGNUPS,
    context,
    erasure,
    fides_dataset,
)

from opendpo.connectors.base import Change, ChangeAction, dataset_specs
from opendpo.execution.masking import deletion_order, plan_erasure
from opendpo.policy.loader import load_policy

DOC = ROOT / "docs" / "policy.md"


# --- exemptions, deleted rows, kept fields ------------------------------------------------------

INVOICES_KEPT = {
    "exemptions": [
        {
            "collection": "shop_db.invoices",
            "retention": "invoices",
            "keep": ["number", "issued_on", "lines"],
            "reason": "HMRC requires invoices for six years.",
        }
    ]
}


def test_an_exemption_keeps_the_row_and_its_kept_fields_and_masks_the_rest() -> None:
    section = erasure(default_strategy="delete_row", **INVOICES_KEPT)
    plan = plan_erasure(INVOICES, [INVOICE], erasure=section, context=context())
    assert plan.changes == [
        Change(
            INVOICES, {"id": 7}, ChangeAction.UPDATE, {"billing_name": None, "billing_email": None}
        )
    ]
    assert plan.describe() == [
        "shop_db.invoices: 1 row kept under retention rule invoices: HMRC requires invoices for "
        "six years.",
        "  lines: kept (named in the exemption's keep)",
        "  billing_name: null in 1 of 1 row (the default strategy; the exemption keeps the row, "
        "so the field is cleared instead)",
        "  billing_email: null in 1 of 1 row (the default strategy; the exemption keeps the "
        "row, so the field is cleared instead)",
        "  billing_phone: null in 0 of 1 row (the default strategy; the exemption keeps the "
        "row, so the field is cleared instead)",
    ]


def test_an_exemption_masks_what_it_does_not_keep_with_its_strategy() -> None:
    section = erasure(categories={"user.contact.email": "keyed_hash"}, **INVOICES_KEPT)
    plan = plan_erasure(INVOICES, [INVOICE], erasure=section, context=context())
    assert [dict(c.values) for c in plan.changes] == [
        {"billing_name": None, "billing_email": KEYED_JANE}
    ]


def test_delete_row_deletes_by_primary_key_or_by_every_field_read() -> None:
    section = erasure(categories={"user.name": "delete_row"})
    plan = plan_erasure(CUSTOMERS, [JANE, JOHN], erasure=section, context=context())
    assert plan.changes == [
        Change(CUSTOMERS, {"id": 1}, ChangeAction.DELETE),
        Change(CUSTOMERS, {"id": 2}, ChangeAction.DELETE),
    ]
    assert plan.describe() == [
        "shop_db.customers: 2 rows deleted: delete_row for first_name (the rule for user.name)"
    ]
    signup = {"email": "jane@example.com", "source": "footer"}
    deleted = plan_erasure(
        SIGNUPS, [signup], erasure=erasure(default_strategy="delete_row"), context=context()
    )
    assert deleted.changes == [Change(SIGNUPS, signup, ChangeAction.DELETE)]


SESSIONS = """
fides_key: shop_db
collections:
  - name: sessions
    fides_meta:
      masking_strategy_override: {strategy: delete}
    fields:
      - name: token
        data_categories: [system.operations]
        fides_meta: {primary_key: true}
      - name: ip_address
        data_categories: [user.device.ip_address]
  - name: settings
    fides_meta:
      masking_strategy_override: {strategy: delete}
    fields:
      - name: key
        data_categories: [system.operations]
        fides_meta: {primary_key: true}
"""


def test_the_fideslang_override_deletes_rows_holding_covered_data() -> None:
    sessions, settings = fides_dataset(SESSIONS)
    row = {"token": "t-1", "ip_address": "203.0.113.45"}
    plan = plan_erasure(sessions, [row], erasure=erasure(), context=context())
    assert plan.changes == [Change(sessions, {"token": "t-1"}, ChangeAction.DELETE)]
    assert plan.describe() == [
        "shop_db.sessions: 1 row deleted: the dataset's masking_strategy_override deletes them"
    ]
    # A collection holding nothing personal is never the person's to delete.
    untouched = plan_erasure(settings, [{"key": "theme"}], erasure=erasure(), context=context())
    assert untouched.changes == []
    assert untouched.describe() == [
        "shop_db.settings: 1 row left alone: nothing in them is covered"
    ]


def test_an_exemption_overrides_the_fideslang_delete() -> None:
    sessions, _ = fides_dataset(SESSIONS)
    section = erasure(
        exemptions=[{"collection": "shop_db.sessions", "retention": "security", "reason": "Fraud."}]
    )
    row = {"token": "t-1", "ip_address": "203.0.113.45"}
    plan = plan_erasure(sessions, [row], erasure=section, context=context())
    assert plan.changes == [
        Change(sessions, {"token": "t-1"}, ChangeAction.UPDATE, {"ip_address": None})
    ]
    assert plan.decision.reason == (
        "under retention rule security: Fraud. (the exemption overrides the dataset's "
        "masking_strategy_override)"
    )


def test_keys_references_and_read_only_fields_are_kept_unless_the_row_goes() -> None:
    email_key = dataclasses.replace(CUSTOMERS.field("email"), primary_key=True)
    customers = dataclasses.replace(
        CUSTOMERS, fields=tuple(email_key if f.path == "email" else f for f in CUSTOMERS.fields)
    )
    section = erasure(
        covers=["user.contact.email", "user.unique_id"],
        fields={"shop_db.invoices.customer_id": "hash"},
    )
    plan = plan_erasure(customers, [JANE], erasure=section, context=context())
    assert plan.changes == []
    assert plan.describe() == [
        "shop_db.customers: 1 row kept, with the covered fields masked",
        "  email: kept (the default strategy; the primary key, which only deleting the row "
        "removes)",
        "  loyalty_code: kept (the default strategy; read-only, which only deleting the row "
        "removes)",
    ]
    invoices = plan_erasure(INVOICES, [INVOICE], erasure=section, context=context())
    assert [dict(c.values) for c in invoices.changes] == [{"billing_email": None}]
    assert invoices.fields()[0].why == (
        "the field's own strategy; a reference to another collection, which only deleting the "
        "row removes"
    )
    # A field other collections point at (here email, from signups) is kept the same way.
    referenced = plan_erasure(
        CUSTOMERS, [JANE], erasure=section, context=context(), referenced={"email"}
    )
    assert referenced.changes == []


def test_a_kept_row_keeps_its_key_whatever_the_strategy() -> None:
    email_key = dataclasses.replace(SIGNUPS.field("email"), primary_key=True)
    signups = dataclasses.replace(SIGNUPS, fields=(email_key, SIGNUPS.field("source")))
    section = erasure(
        default_strategy="delete_row",
        exemptions=[{"collection": "shop_db.signups", "retention": "marketing", "reason": "x"}],
    )
    plan = plan_erasure(
        signups,
        [{"email": "jane@example.com", "source": "footer"}],
        erasure=section,
        context=context(),
    )
    assert plan.changes == []
    assert plan.describe()[1] == (
        "  email: kept (the default strategy; the primary key, which only deleting the row removes)"
    )


def test_a_strategy_the_data_type_refuses_is_cleared_and_the_plan_says_so() -> None:
    section = erasure(covers=["user.demographic"], default_strategy="hash")
    plan = plan_erasure(CUSTOMERS, [JANE], erasure=section, context=context())
    assert [dict(c.values) for c in plan.changes] == [{"age": None}]
    assert plan.describe()[1] == (
        "  age: null in 1 of 1 row (the default strategy; an integer field cannot hold the "
        "string hash writes, so it is cleared instead)"
    )


def test_changes_setting_the_same_fields_come_together() -> None:
    section = erasure(covers=["user.name"])
    rows = [JANE, JOHN, {**JANE, "id": 3}, {**JOHN, "id": 4}]
    plan = plan_erasure(CUSTOMERS, rows, erasure=section, context=context())
    assert [(c.key["id"], tuple(c.values)) for c in plan.changes] == [
        (2, ("first_name",)),
        (4, ("first_name",)),
        (1, ("first_name", "last_name")),
        (3, ("first_name", "last_name")),
    ]
    assert plan.changed == {"first_name": 4, "last_name": 2}


def test_a_large_collection_can_be_planned_batch_by_batch() -> None:
    section = erasure(covers=["user.name"])
    whole = plan_erasure(CUSTOMERS, [JANE, JOHN], erasure=section, context=context())
    first = plan_erasure(CUSTOMERS, [JANE], erasure=section, context=context())
    second = plan_erasure(CUSTOMERS, [JOHN], erasure=section, context=context())
    merged = first.merged(second)
    assert (merged.rows, dict(merged.changed)) == (2, {"first_name": 2, "last_name": 1})
    assert sorted(merged.changes, key=lambda c: c.key["id"]) == sorted(
        whole.changes, key=lambda c: c.key["id"]
    )
    other = plan_erasure(INVOICES, [INVOICE], erasure=section, context=context())
    with pytest.raises(ValueError, match="only plans of the same collection"):
        first.merged(other)


def test_the_documented_dry_run_is_what_the_documented_erasure_does(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### `erasure`", 1)[1].split("\n### ", 1)[0]
    fragment = re.search(r"```yaml\n(erasure:\n.*?)```", section, re.DOTALL)
    shown = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert fragment is not None and shown is not None
    policy = tmp_path / "policy.yaml"
    minimal = (ROOT / "tests" / "policy_files" / "minimal.yaml").read_text(encoding="utf-8")
    policy.write_text(minimal.replace("\nrights:\n", f"\n{fragment[1]}\nrights:\n"), "utf-8")
    document = load_policy(policy).document
    found = {
        "crm_db.contacts": [{"id": 1, "email": "jane@example.com", "name": "Jane Example"}],
        "crm_db.notes": [
            {"contact_id": 1, "body": "Called about the renewal."},
            {"contact_id": 1, "body": "Asked for a quote."},
        ],
    }
    specs = dataset_specs(document.dataset[0])
    lines = []
    for spec in deletion_order(specs):
        plan = plan_erasure(spec, found[spec.key], erasure=document.erasure, context=context())
        lines += plan.describe()
    assert lines == shown[1].splitlines()
