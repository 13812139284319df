"""What Connect IB sells, what people write to it, and what its website serves.

The vocabulary the generated records are made of: a B2B workplace-software company's price
list, the enquiries its forms receive, the pages of its site and the browsers that visit it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

VAT_RATE = Decimal("0.20")
PENNY = Decimal("0.01")
SITE = "https://www.connect-ib.example"


class ProductKind(StrEnum):
    SUBSCRIPTION = "subscription"
    HARDWARE = "hardware"  # goes out in a delivery
    SERVICE = "service"


@dataclass(frozen=True)
class Product:
    name: str
    unit_price: Decimal  # pounds, before VAT
    kind: ProductKind
    max_quantity: int = 1


SUBSCRIPTION = ProductKind.SUBSCRIPTION
HARDWARE = ProductKind.HARDWARE
SERVICE = ProductKind.SERVICE

PRODUCTS = (
    Product("Visitor management licence (12 months)", Decimal("1188.00"), SUBSCRIPTION),
    Product("Desk booking licence (12 months)", Decimal("1440.00"), SUBSCRIPTION),
    Product("Meeting room booking licence (12 months)", Decimal("960.00"), SUBSCRIPTION),
    Product("Additional site licence (12 months)", Decimal("588.00"), SUBSCRIPTION, 4),
    Product("Premium support (12 months)", Decimal("480.00"), SUBSCRIPTION),
    Product("iPad sign-in kiosk", Decimal("449.00"), HARDWARE, 3),
    Product("Badge printer", Decimal("329.00"), HARDWARE, 2),
    Product("Visitor badge labels (pack of 1,000)", Decimal("39.00"), HARDWARE, 10),
    Product("Room display panel", Decimal("289.00"), HARDWARE, 8),
    Product("Installation and training day", Decimal("650.00"), SERVICE, 2),
)
SUBSCRIPTIONS = tuple(p for p in PRODUCTS if p.kind is SUBSCRIPTION)

ENQUIRIES = (
    "We are looking for a visitor sign-in system for our {town} office, about {visitors} "
    "visitors a week. Could you send pricing?",
    "Do you offer desk booking for a hybrid team of around {staff} people? We would like a demo.",
    "Could we arrange a call about meeting room booking across our {sites} sites?",
    "Our badge printer has stopped printing visitor labels. Can someone help?",
    "Please can you send a quote for {kiosks} sign-in kiosks for our {town} reception?",
    "We need visitors to sign our NDA on arrival. Does your system support that?",
    "Is your visitor management system compatible with our Microsoft 365 calendars?",
    "We are reviewing our contract renewal. Could our account manager get in touch?",
    "Can the sign-in screen show our fire evacuation list? Our health and safety team asks.",
    "We would like to add a second site in {town} to our subscription.",
    "Please remove the old reception iPad from our account; we have replaced it.",
    "Do you have a case study from a company of around {staff} staff?",
)

# Which group company an enquiry was passed to (controller.group_companies in the policy).
GROUP_COMPANIES = ("swipedon", "space_connect", "smartspace")

CONSENT_SOURCES = (
    "website newsletter form",
    "website enquiry form",
    "webinar registration",
    "trade show badge scan",
    "account preferences",
)
SUPPRESSION_REASONS = ("unsubscribed", "unsubscribed", "consent_withdrawn", "hard_bounce")

PAGES = (
    "/", "/", "/", "/visitor-management", "/visitor-management", "/desk-booking",
    "/meeting-rooms", "/pricing", "/pricing", "/contact", "/about", "/case-studies",
    "/case-studies/nhs-trust", "/case-studies/law-firm", "/blog/hybrid-working-guide",
    "/blog/visitor-gdpr-checklist", "/blog/fire-safety-sign-in", "/support", "/privacy",
    "/careers",
)  # fmt: skip
REFERRERS = (
    "https://www.google.com/", "https://www.google.co.uk/", "https://www.bing.com/",
    "https://duckduckgo.com/", "https://www.linkedin.com/", "https://t.co/",
)  # fmt: skip
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
)


def enquiry_message(rng: random.Random, town: str) -> str:
    return rng.choice(ENQUIRIES).format(
        town=town,
        visitors=rng.choice((20, 40, 75, 150, 300)),
        staff=rng.choice((25, 60, 120, 250, 800)),
        sites=rng.randint(2, 12),
        kiosks=rng.randint(2, 6),
    )


def line_items(rng: random.Random, *, count: int) -> list[tuple[Product, int]]:
    """`count` different products, a subscription first: nobody buys a kiosk alone."""
    chosen = [rng.choice(SUBSCRIPTIONS)]
    others = [p for p in PRODUCTS if p is not chosen[0]]
    chosen += rng.sample(others, count - 1)
    return [(product, rng.randint(1, product.max_quantity)) for product in chosen]


def credit_result(rng: random.Random) -> str:
    """A credit reference agency's verdict on a company, as the CRM records it."""
    band = rng.choices(("low", "medium", "high"), weights=(6, 3, 1))[0]
    if band == "low":
        score, limit = rng.randint(80, 99), rng.choice((10_000, 15_000, 25_000, 50_000))
        return f"Low risk: score {score}/100, credit limit £{limit:,}"
    if band == "medium":
        score, limit = rng.randint(50, 79), rng.choice((2_500, 5_000, 7_500))
        return f"Medium risk: score {score}/100, credit limit £{limit:,}"
    return f"High risk: score {rng.randint(20, 49)}/100, no credit; payment in advance"
