"""The estate the tests build most often, and what it must hold (it is deterministic)."""

from __future__ import annotations

import datetime as dt

AS_OF = dt.date(2026, 11, 26)
SEED = 7
PEOPLE = 300
# Rows per table for PEOPLE people with SEED on AS_OF, Jane Example's included.
COUNTS = {
    "crm_db.organisations": 90,
    "crm_db.contacts": 291,
    "crm_db.credit_checks": 76,
    "crm_db.enquiries": 295,
    "crm_db.quotes": 82,
    "billing_db.customers": 32,
    "billing_db.customer_contacts": 118,
    "billing_db.invoices": 141,
    "billing_db.deliveries": 24,
    "billing_db.payments": 143,
    "email_platform.subscribers": 153,
    "email_platform.suppressions": 39,
    "website_db.form_submissions": 194,
    "website_db.visits": 1810,
}
