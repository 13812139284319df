"""The Art 15 report for the Connect IB policy: every fact derived for what was found, and a
page that stands on its own (no scripts, nothing fetched) and reads well with assistive tech."""

from __future__ import annotations

import datetime as dt
import re

from package_policy import connect_ib

from opendpo.execution.report import build_report, mask, render_report
from opendpo.execution.report_facts import (
    FoundCollection,
    Holding,
    RequestFacts,
    RetentionFact,
    Route,
    SourceFact,
)

REQUEST = RequestFacts(
    reference="R-7K2M9QXD",
    received_at=dt.datetime(2026, 9, 3, 23, 30, tzinfo=dt.UTC),  # 4 September in London
    identities=(
        ("email", "jane.doe@example.com"),
        ("phone", "+447700900123"),
        ("cookie_id", "a1b2c3d4e5"),
    ),
)
NOW = dt.datetime(2026, 9, 10, 8, 0, tzinfo=dt.UTC)
SITE = "https://privacy.connectib.example"
CONTACT_AND_VISITS = (
    FoundCollection("crm", "crm_db", "contacts", ("user.contact.email", "user.name.first"), 1),
    FoundCollection(
        "crm", "crm_db", "credit_checks", ("user.name", "user.financial.credit_check"), 2
    ),
    FoundCollection(
        "website",
        "website_db",
        "visits",
        ("user.device.ip_address", "user.behavior.browsing_history"),
        40,
    ),
)
QUOTES = "Sales enquiries, quotes and purchase orders"
CONTRACTS = "Client accounts and contracts"
MARKETING = "Marketing communications"
GROUP = "Sharing within the SmartSpace group"
QUESTIONS = "Responding to questions and problems"
BILLING = "Billing and account management"
CREDIT = "Credit checks on client companies"
ANALYTICS = "Website visit analytics"
IMPROVEMENT = "Understanding and improving our services"
LAW = "Complying with laws and lawful requests"
FRAUD = "Enforcing our rights, preventing fraud and safety"
BUSINESS = "Changes to our business structure"
CONTRACT = "Contract (Art 6(1)(b))"
INTERESTS = "Legitimate interests (Art 6(1)(f))"


def test_the_facts_for_a_contact_a_credit_check_and_website_visits() -> None:
    facts = build_report(
        connect_ib(), found=CONTACT_AND_VISITS, request=REQUEST, now=NOW, site_url=SITE
    )
    assert (facts.controller, facts.reference, facts.language) == (
        "Connect IB",
        "R-7K2M9QXD",
        "en-GB",
    )
    assert (facts.received_on, facts.generated_on) == (dt.date(2026, 9, 4), dt.date(2026, 9, 10))
    assert facts.identities == (
        "Email: j***@example.com",
        "Telephone: +44***123",
        "Cookie id: a***5",
    )
    assert facts.holdings == (
        Holding("CRM", "contacts", 1, ("Email", "First name")),
        Holding("CRM", "credit_checks", 2, ("Name", "Credit check result")),
        Holding("Website", "visits", 40, ("IP address", "Browsing history")),
    )
    assert facts.total_rows == 43

    contact = ("Email", "First name", "Name")
    assert [(p.name, p.lawful_basis, p.categories, p.systems) for p in facts.purposes] == [
        (QUOTES, CONTRACT, contact, ("CRM",)),
        (CONTRACTS, CONTRACT, contact, ("CRM",)),
        (MARKETING, "Consent (Art 6(1)(a))", contact, ("CRM",)),
        (GROUP, INTERESTS, contact, ("CRM",)),
        (QUESTIONS, INTERESTS, contact, ("CRM",)),
        (CREDIT, INTERESTS, ("First name", "Name", "Credit check result"), ("CRM",)),
        (ANALYTICS, INTERESTS, ("IP address", "Browsing history"), ("Website",)),
        (IMPROVEMENT, INTERESTS, ("Browsing history",), ("Website",)),
        (LAW, "Legal obligation (Art 6(1)(c))", (*contact, "IP address"), ("CRM", "Website")),
        (FRAUD, INTERESTS, (*contact, "IP address"), ("CRM", "Website")),
        (BUSINESS, INTERESTS, contact, ("CRM",)),
    ]
    credit = facts.purposes[5]
    assert credit.interest == "Knowing that a company can pay before offering it credit terms."
    assert facts.purposes[0].interest is None

    # The agency receives only the company's name and number: nothing found goes to it.
    assert [r.name for r in facts.recipients] == [
        "CRM service provider",
        "Billing and accounting software provider",
        "Email marketing platform provider",
        "Website hosting provider",
        "SmartSpace group shared services",
        "SmartSpace Software Plc",
        "SwipedOn Limited",
        "Space Connect Pty Ltd",
        "Providers of integrated services",
        "Buyers, successors and financiers of the business",
        "Police, regulators, courts and other public authorities",
        "Professional advisers",
    ]
    recipients = {r.name: r for r in facts.recipients}
    crm = recipients["CRM service provider"]
    assert crm.purposes == (QUOTES, CONTRACTS, MARKETING, GROUP, QUESTIONS, CREDIT, FRAUD, BUSINESS)
    assert (crm.kind, crm.role, crm.transfer) == (
        "Service provider (processor)",
        "Processor (acts on our instructions)",
        None,
    )
    host = recipients["Website hosting provider"]
    assert host.purposes == (QUOTES, MARKETING, QUESTIONS, ANALYTICS, IMPROVEMENT, FRAUD)
    assert host.transfer == "Ireland, protected by the UK's adequacy regulations"
    assert recipients["Email marketing platform provider"].transfer == (
        "the United States, protected by the UK Addendum to the EU Standard Contractual Clauses"
    )

    assert [(r.name, r.purposes) for r in facts.retention] == [
        ("Client contracts and account records", (CONTRACTS, FRAUD)),
        ("Sales enquiries, quotes and questions", (QUOTES, GROUP, QUESTIONS)),
        ("Marketing contacts gone quiet", (MARKETING,)),
        ("Marketing profile after consent is withdrawn", (MARKETING,)),
        ("Website visit records", (ANALYTICS, IMPROVEMENT)),
        ("Credit check results", (CREDIT,)),
    ]
    assert facts.retention[-1] == RetentionFact(
        name="Credit check results",
        period="12 months",
        starts="from when we collected it",
        action="then we delete it",
        legal_reason="No legal duty; a credit report is relied on for a year at most and a new "
        "check is made when terms are reviewed.",
        purposes=(CREDIT,),
    )
    assert facts.retention[4].action == "then we anonymise it"
    assert facts.without_retention == (LAW, BUSINESS)

    assert facts.sources == (
        SourceFact(
            GROUP,
            "From another company in our group",
            "An enquiry passed to us by another SmartSpace group company.",
            None,
        ),
        SourceFact(
            CREDIT,
            "From a third party",
            "A credit report from the credit checking agency.",
            "Credit reference agency",
        ),
        SourceFact(
            ANALYTICS,
            "Observed as you use our website and services",
            "Gathered passively as people browse the website.",
            None,
        ),
        SourceFact(IMPROVEMENT, "Observed as you use our website and services", None, None),
    )
    assert facts.automated_decisions is False
    assert [r.key for r in facts.rights] == [
        "informed",
        "access",
        "rectification",
        "erasure",
        "restriction",
        "portability",
        "objection",
        "automated_decision_review",
    ]
    objection = facts.rights[6]
    assert objection.routes[2:] == (
        Route("use our preference centre", f"{SITE}/preferences"),
        Route("use the unsubscribe link at the bottom of any marketing email", None),
    )
    assert facts.complaint_routes[0] == Route(
        "email datamanagement@smartspaceplc.com", "mailto:datamanagement@smartspaceplc.com"
    )
    assert facts.complaint_days == 30
    assert (facts.authority, facts.authority_url, facts.authority_phone) == (
        "Information Commissioner's Office",
        "https://ico.org.uk/make-a-complaint/",
        "0303 123 1113",
    )
    assert facts.dpo_email == "datamanagement@smartspaceplc.com"


def test_the_facts_for_invoices_alone() -> None:
    found = (
        FoundCollection(
            "billing", "billing_db", "invoices", ("user.behavior.purchase_history",), 12
        ),
    )
    facts = build_report(connect_ib(), found=found, request=REQUEST, now=NOW)
    assert [p.name for p in facts.purposes] == [BILLING, LAW, FRAUD, BUSINESS]
    assert all(p.categories == ("Purchase history",) for p in facts.purposes)
    # Those whose minimum data includes purchase history; not the CRM host or the police.
    assert [(r.name, r.purposes) for r in facts.recipients] == [
        ("Billing and accounting software provider", (BILLING, FRAUD, BUSINESS)),
        ("SmartSpace group shared services", (BILLING,)),
        ("Buyers, successors and financiers of the business", (BUSINESS,)),
        ("Professional advisers", (LAW, FRAUD, BUSINESS)),
    ]
    assert [(r.name, r.period, r.starts) for r in facts.retention] == [
        (
            "Invoices and accounting records",
            "6 years",
            "from the end of the financial year it relates to",
        ),
        ("Client contracts and account records", "6 years", "from the end of the contract"),
    ]
    assert facts.sources == ()
    # Without the site's address a page of the privacy centre is named, not linked.
    assert facts.rights[6].routes[2] == Route(
        "use our preference centre (/preferences on our website)", None
    )


def test_identities_are_masked() -> None:
    assert mask("email", "jo@example.co.uk") == "j***@example.co.uk"
    assert mask("phone", "+447700900123") == "+44***123"
    assert mask("customer_id", "CUST-100234") == "C***4"
    assert mask("customer_id", "1234") == "***"


def test_the_page_stands_alone_and_is_accessible() -> None:
    facts = build_report(
        connect_ib(), found=CONTACT_AND_VISITS, request=REQUEST, now=NOW, site_url=SITE
    )
    page = render_report(facts)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en-GB">')
    for outside in ("<script", "src=", "<link", "@import", "url("):
        assert outside not in page
    assert page.count("<h1>") == 1
    assert re.findall(r'<h2 id="([a-z]+)">', page) == [
        "held",
        "purposes",
        "recipients",
        "retention",
        "sources",
        "automated",
        "rights",
        "complaints",
        "contact",
    ]
    assert page.count('<th scope="col"') == 4 + 4  # what we hold, and recipients
    assert '<th scope="row">Website</th><td>visits</td><td class="count">40</td>' in page
    assert "<caption>43 records found, by system</caption>" in page
    assert "received on 4 September 2026" in page
    assert "<li>Email: j***@example.com</li>" in page and "jane.doe" not in page
    assert "Credit reference agency" in page  # as the source of the credit check
    assert "We do not make decisions about you by computer alone." in page
    assert facts.portability_rule.replace("'", "&#39;") in page
    assert '<a href="https://ico.org.uk/make-a-complaint/">' in page
    assert "disclosure log" not in page.lower()  # none is kept yet: none is claimed


def test_nothing_found_and_text_from_systems_is_escaped() -> None:
    policy = connect_ib()
    empty = render_report(build_report(policy, found=(), request=REQUEST, now=NOW))
    assert "We found no personal data about you in our systems." in empty
    assert 'id="purposes"' not in empty

    odd = (FoundCollection("legacy", "old_db", "<b>notes</b>", ("user.name",), 1),)
    page = render_report(build_report(policy, found=odd, request=REQUEST, now=NOW))
    assert '<th scope="row">legacy</th><td>&lt;b&gt;notes&lt;/b&gt;</td>' in page

    automated = policy.model_copy(
        update={"rights": policy.rights.model_copy(update={"automated_decision_making": True})}
    )
    facts = build_report(automated, found=(), request=REQUEST, now=NOW)
    assert "ask for a person to review any such decision" in render_report(facts)
