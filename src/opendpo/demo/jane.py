"""Jane Example: the one person whose records are the same in every demo estate.

The docs walk a newcomer through her requests, so her values are fixed and documented here
(docs and tests quote them): every id of hers is 1 (2 for her second enquiry and invoice),
she is written before anyone generated, and no generated person shares her email, phone,
visitor id or company number.

She runs Example Trading Ltd, a small client in Luton that found Connect IB through the
website: she browsed, sent an enquiry (passed to SwipedOn, the group's visitor-management
company) and opted in to marketing, was quoted and credit-checked, bought a licence and a
kiosk (delivered), later added premium support, and asked about it by email.

    email        jane@example.com (the same, in this spelling, in every system)
    phone        +44 7700 900123 (Ofcom drama range)
    visitor id   6f1c2a7e-3b9d-4e58-a0c4-9d2e7b900123 (her analytics cookie, website visits)
    company      Example Trading Ltd, company number 09900123, VAT GB990012300
    address      1 Example Street, Luton, LU1 1AA
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from opendpo.demo.catalogue import SITE, USER_AGENTS
from opendpo.demo.places import Address, Phone
from opendpo.demo.world import Row

EMAIL = "jane@example.com"
PHONE = Phone("07700", "900123")
VISITOR_ID = "6f1c2a7e-3b9d-4e58-a0c4-9d2e7b900123"
COMPANY = "Example Trading Ltd"
COMPANY_NUMBER = "09900123"
VAT_NUMBER = "GB990012300"
ADDRESS = Address("1 Example Street", "Luton", "LU1 1AA")
IP_ADDRESS = "203.0.113.45"  # TEST-NET-3, reserved for documentation

FIRST_ENQUIRY = (
    "We are looking for a visitor sign-in system for our Luton office, about 40 visitors a "
    "week. Could you send pricing?"
)
SECOND_ENQUIRY = "Could we add premium support to our account? Our reception team would like it."


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def jane_rows() -> dict[str, list[Row]]:
    """Her rows, keyed by `dataset.collection`, exactly as written (and as read back)."""
    return {
        "crm_db.organisations": [
            {
                "id": 1,
                "name": COMPANY,
                "registration_number": COMPANY_NUMBER,
                "vat_number": VAT_NUMBER,
                "address": ADDRESS.line,
            }
        ],
        "crm_db.contacts": [
            {
                "id": 1,
                "email": EMAIL,
                "phone": PHONE.international,
                "first_name": "Jane",
                "last_name": "Example",
                "job_title": "Managing Director",
                "department": "Executive",
                "address": ADDRESS.line,
                "relationship": "client",
                "marketing_opt_in": True,
                "organisation_id": 1,
            }
        ],
        "crm_db.enquiries": [
            {
                "id": 1,
                "contact_id": 1,
                "message": FIRST_ENQUIRY,
                "passed_to_group_company": "swipedon",
                "received_at": _at("2026-03-02 09:14:05"),
            },
            {
                "id": 2,
                "contact_id": 1,
                "message": SECOND_ENQUIRY,
                "passed_to_group_company": None,
                "received_at": _at("2026-09-15 14:02:40"),
            },
        ],
        "crm_db.quotes": [
            {
                "id": 1,
                "contact_id": 1,
                "items": [
                    {
                        "product": "Visitor management licence (12 months)",
                        "quantity": 1,
                        "unit_price": "1188.00",
                    },
                    {"product": "iPad sign-in kiosk", "quantity": 1, "unit_price": "449.00"},
                ],
                "issued_on": dt.date(2026, 3, 4),
            }
        ],
        "crm_db.credit_checks": [
            {
                "id": 1,
                "organisation_id": 1,
                "officers": ["Jane Example", "John Example"],
                "result": "Low risk: score 88/100, credit limit £10,000",
                "checked_on": dt.date(2026, 3, 5),
            }
        ],
        "billing_db.customers": [
            {
                "id": 1,
                "company_name": COMPANY,
                "company_number": COMPANY_NUMBER,
                "vat_number": VAT_NUMBER,
                "billing_email": EMAIL,
                "billing_address": ADDRESS.as_json(),
            }
        ],
        "billing_db.customer_contacts": [
            {
                "customer_id": 1,
                "name": "Jane Example",
                "email": EMAIL,
                "phone": PHONE.international,
                "department": "Executive",
            }
        ],
        "billing_db.invoices": [
            {
                "id": 1,
                "customer_id": 1,
                "number": "CIB-2026-000001",
                "lines": [
                    {
                        "description": "Visitor management licence (12 months)",
                        "quantity": 1,
                        "unit_price": "1188.00",
                        "vat_rate": "0.20",
                    },
                    {
                        "description": "iPad sign-in kiosk",
                        "quantity": 1,
                        "unit_price": "449.00",
                        "vat_rate": "0.20",
                    },
                ],
                "issued_on": dt.date(2026, 3, 16),
            },
            {
                "id": 2,
                "customer_id": 1,
                "number": "CIB-2026-000002",
                "lines": [
                    {
                        "description": "Premium support (12 months)",
                        "quantity": 1,
                        "unit_price": "480.00",
                        "vat_rate": "0.20",
                    }
                ],
                "issued_on": dt.date(2026, 9, 21),
            },
        ],
        "billing_db.payments": [
            {"invoice_id": 1, "amount": Decimal("1964.40"), "paid_on": dt.date(2026, 4, 10)},
            {"invoice_id": 2, "amount": Decimal("576.00"), "paid_on": dt.date(2026, 10, 14)},
        ],
        "billing_db.deliveries": [
            {
                "id": 1,
                "invoice_id": 1,
                "contact_name": "Jane Example",
                "address": ADDRESS.line,
                "phone": PHONE.international,
                "dispatched_on": dt.date(2026, 3, 18),
            }
        ],
        "email_platform.subscribers": [
            {
                "email": EMAIL,
                "first_name": "Jane",
                "last_name": "Example",
                "job_title": "Managing Director",
                "company": COMPANY,
                "consent": {
                    "status": "opted_in",
                    "given_at": "2026-03-02T09:13:58Z",
                    "source": "website enquiry form",
                },
            }
        ],
        "email_platform.suppressions": [],
        "website_db.form_submissions": [
            {
                "id": 1,
                "email": EMAIL,
                "name": "Jane Example",
                "phone": PHONE.international,
                "company": COMPANY,
                "message": FIRST_ENQUIRY,
                "marketing_opt_in": True,
                "submitted_at": _at("2026-03-02 09:13:58"),
            }
        ],
        "website_db.visits": [
            _visit("/", "https://www.google.co.uk/", "2026-03-02 09:05:12"),
            _visit("/visitor-management", f"{SITE}/", "2026-03-02 09:07:40"),
            _visit("/contact", f"{SITE}/visitor-management", "2026-03-02 09:11:03"),
            _visit("/support", None, "2026-09-15 13:58:21"),
        ],
    }


def _visit(page: str, referrer: str | None, at: str) -> Row:
    return {
        "visitor_id": VISITOR_ID,
        "ip_address": IP_ADDRESS,
        "user_agent": USER_AGENTS[0],
        "page": page,
        "referrer": referrer,
        "visited_at": _at(at),
    }
