"""A client's account in billing: the customer, its contacts, invoices, payments, deliveries.

Invoices follow the client's life: the first order when it signed, a renewal each year after,
extra hardware now and then. Most are paid within a couple of months, some in instalments;
the most recent may still be open. Hardware goes out in a delivery to a named contact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from opendpo.demo.catalogue import PENNY, VAT_RATE, Product, ProductKind, line_items
from opendpo.demo.people import Company, Person, case_variant
from opendpo.demo.world import Row, World

CUSTOMERS = "billing_db.customers"
CUSTOMER_CONTACTS = "billing_db.customer_contacts"
INVOICES = "billing_db.invoices"
PAYMENTS = "billing_db.payments"
DELIVERIES = "billing_db.deliveries"

RENEWAL_DAYS = 365
PAYMENT_TERMS_DAYS = 30


def spelt(world: World, email: str, *, variants: float) -> str:
    """The address as another system holds it: now and then with capitals someone typed."""
    return case_variant(email) if world.chance(variants) else email


def open_account(
    world: World, company: Company, *, since: dt.date, main: Person, contacts: Sequence[Person]
) -> None:
    """Bill `company` from `since`; `main` runs the account, `contacts` include them."""
    customer_id = world.next_id(CUSTOMERS)
    if world.chance(0.5):
        billing_email = f"accounts@{company.domain}"
    else:
        billing_email = spelt(world, main.email, variants=0.1)
    world.emit(
        CUSTOMERS,
        {
            "id": customer_id,
            "company_name": company.name,
            "company_number": company.registration_number,
            "vat_number": company.vat_number,
            "billing_email": billing_email,
            "billing_address": company.address.as_json(),
        },
    )
    for person in contacts:
        world.emit(
            CUSTOMER_CONTACTS,
            {
                "customer_id": customer_id,
                "name": person.name,
                "email": spelt(world, person.email, variants=0.1),
                "phone": person.phone.national,
                "department": person.department,
            },
        )
    for issued_on, lines in _orders(world, since):
        invoice_id = world.next_id(INVOICES)
        world.emit(
            INVOICES,
            {
                "id": invoice_id,
                "customer_id": customer_id,
                "number": f"CIB-{issued_on.year}-{invoice_id:06d}",
                "lines": [_line(product, quantity) for product, quantity in lines],
                "issued_on": issued_on,
            },
        )
        _pay(world, invoice_id, issued_on, _total(lines))
        if any(product.kind is ProductKind.HARDWARE for product, _ in lines):
            receiver = world.rng.choice(contacts)
            world.emit(
                DELIVERIES,
                {
                    "id": world.next_id(DELIVERIES),
                    "invoice_id": invoice_id,
                    "contact_name": receiver.name,
                    "address": company.address.line,
                    "phone": receiver.phone.as_typed(world.rng),
                    "dispatched_on": world.day_after(issued_on, low=1, high=6),
                },
            )


def _orders(world: World, since: dt.date) -> list[tuple[dt.date, list[tuple[Product, int]]]]:
    orders = [(since, line_items(world.rng, count=world.rng.randint(1, 3)))]
    renewal = since + dt.timedelta(days=RENEWAL_DAYS)
    while renewal <= world.as_of:
        orders.append((renewal, line_items(world.rng, count=1)))
        if world.chance(0.25):  # extra kit between renewals
            extra = world.day_between(renewal, renewal + dt.timedelta(days=300))
            if extra <= world.as_of:
                orders.append((extra, line_items(world.rng, count=2)))
        renewal += dt.timedelta(days=RENEWAL_DAYS)
    return sorted(orders, key=lambda order: order[0])


def _line(product: Product, quantity: int) -> Row:
    return {
        "description": product.name,
        "quantity": quantity,
        "unit_price": str(product.unit_price),
        "vat_rate": str(VAT_RATE),
    }


def _total(lines: list[tuple[Product, int]]) -> Decimal:
    net = sum((product.unit_price * quantity for product, quantity in lines), Decimal(0))
    return (net * (1 + VAT_RATE)).quantize(PENNY)


def _pay(world: World, invoice_id: int, issued_on: dt.date, total: Decimal) -> None:
    due = issued_on + dt.timedelta(days=PAYMENT_TERMS_DAYS)
    if due > world.as_of and world.chance(0.7):
        return  # not due yet, and not paid early
    if world.chance(0.03):
        return  # in dispute, or written off
    if world.chance(0.1):
        first = (total / 2).quantize(PENNY)
        first_day = world.day_after(issued_on, low=5, high=40)
        world.emit(PAYMENTS, {"invoice_id": invoice_id, "amount": first, "paid_on": first_day})
        second_day = world.day_after(first_day, low=25, high=35)
        if second_day > first_day:
            world.emit(
                PAYMENTS,
                {"invoice_id": invoice_id, "amount": total - first, "paid_on": second_day},
            )
        return
    paid_on = world.day_after(issued_on, low=3, high=60)
    world.emit(PAYMENTS, {"invoice_id": invoice_id, "amount": total, "paid_on": paid_on})
