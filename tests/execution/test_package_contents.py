"""Which fields a package carries, on the Connect IB policy: every covered field for access,
keys only where they link kept collections, and for portability (Art 20) only what the
person provided on consent or contract."""

from __future__ import annotations

from package_policy import collections, connect_ib

from opendpo.execution.package_contents import choose_fields


def test_access_keeps_every_covered_field_and_the_keys_that_link_rows() -> None:
    policy = connect_ib()
    chosen = choose_fields(policy, collections=collections(policy), covered=["user"], kind="access")
    assert chosen["crm_db.contacts"] == (
        "id",
        "address",
        "department",
        "email",
        "first_name",
        "job_title",
        "last_name",
        "marketing_opt_in",
        "organisation_id",
        "phone",
    )
    assert chosen["crm_db.enquiries"] == ("contact_id", "message")  # no dates, no flags
    assert chosen["crm_db.credit_checks"] == ("officers", "organisation_id", "result")
    assert chosen["billing_db.customers"] == (
        "id",
        "billing_address.street",
        "billing_address.city",
        "billing_address.postcode",
        "billing_email",
        "company_name",
        "company_number",
        "vat_number",
    )
    assert chosen["website_db.visits"] == (
        "ip_address",
        "page",
        "referrer",
        "user_agent",
        "visited_at",
        "visitor_id",
    )
    assert len(chosen) == 14


def test_a_narrow_request_keeps_keys_only_where_they_link_two_kept_collections() -> None:
    policy = connect_ib()
    chosen = choose_fields(
        policy, collections=collections(policy), covered=["user.contact.email"], kind="access"
    )
    assert chosen == {
        # Nothing else of the CRM is covered: its contact id would link to nothing.
        "crm_db.contacts": ("email",),
        # A contact's customer_id is not a reference (it would reach colleagues): no link.
        "billing_db.customer_contacts": ("email",),
        "billing_db.customers": ("billing_email",),
        "email_platform.subscribers": ("email",),
        "email_platform.suppressions": ("email",),
        "website_db.form_submissions": ("email",),
    }


def test_portability_gives_only_what_the_person_provided_on_consent_or_contract() -> None:
    policy = connect_ib()
    every = collections(policy)
    chosen = choose_fields(policy, collections=every, covered=["user"], kind="portability")
    left_out = {spec.key for _, spec in every} - set(chosen)
    assert left_out == {
        "crm_db.credit_checks",  # from the credit reference agency
        "website_db.visits",  # legitimate interests: website analytics
        "crm_db.quotes",  # the policy names no consent or contract purpose for them
    }
    assert (
        chosen["crm_db.contacts"]
        == choose_fields(policy, collections=every, covered=["user"], kind="access")[
            "crm_db.contacts"
        ]
    )
    assert chosen["website_db.form_submissions"] == (
        "company",
        "email",
        "marketing_opt_in",
        "message",
        "name",
        "phone",
    )
    # The organisation a credit check points at is still the person's own (contract) data,
    # but the check itself is not: nothing links to it.
    assert chosen["crm_db.organisations"] == (
        "id",
        "address",
        "name",
        "registration_number",
        "vat_number",
    )
