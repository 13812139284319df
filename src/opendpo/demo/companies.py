"""A company and its people across the estate: the CRM first, then billing, email and web.

A client company has an account contact, order contacts, perhaps marketing contacts, and
often someone in finance who appears only in billing. A prospect has enquirers and marketing
contacts. Each contact's enquiries, quotes, opt-in, unsubscribes and website visits follow
from their relationship, so the same person turns up in several systems under the same
email, now and then spelt with capitals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from opendpo.demo import accounts, marketing
from opendpo.demo.catalogue import CONSENT_SOURCES, GROUP_COMPANIES, credit_result, enquiry_message
from opendpo.demo.catalogue import line_items as quote_lines
from opendpo.demo.people import BILLING_DEPARTMENTS, Company, Person
from opendpo.demo.world import World

ORGANISATIONS = "crm_db.organisations"
CONTACTS = "crm_db.contacts"
ENQUIRIES = "crm_db.enquiries"
QUOTES = "crm_db.quotes"
CREDIT_CHECKS = "crm_db.credit_checks"

CLIENT, ORDER_CONTACT, ENQUIRER, MARKETING_CONTACT = (
    "client", "order_contact", "enquirer", "marketing_contact",
)  # fmt: skip
BILLING_ONLY = ""  # not in the CRM at all: someone in finance who pays the invoices
OPT_IN = {CLIENT: 0.3, ORDER_CONTACT: 0.25, ENQUIRER: 0.45, MARKETING_CONTACT: 0.9}
ENQUIRY_COUNTS = {
    CLIENT: (0, 2),
    ORDER_CONTACT: (0, 1),
    ENQUIRER: (1, 3),
    MARKETING_CONTACT: (0, 0),
}
QUOTE_CHANCE = {CLIENT: 0.8, ORDER_CONTACT: 0.2, ENQUIRER: 0.3, MARKETING_CONTACT: 0.0}


@dataclass(frozen=True)
class Member:
    person: Person
    relationship: str


def add_company(world: World, *, size: int, client: bool) -> None:
    """A company with `size` people, a client (billed) or a prospect."""
    directory, rng = world.directory, world.rng
    company = directory.company()
    since = world.day_between(world.start, world.as_of - dt.timedelta(days=14))
    organisation_id = world.next_id(ORGANISATIONS)
    world.emit(
        ORGANISATIONS,
        {
            "id": organisation_id,
            "name": company.name,
            "registration_number": company.registration_number,
            "vat_number": company.vat_number,
            "address": company.address.line,
        },
    )
    members = [_member(world, company, first=i == 0, client=client, size=size) for i in range(size)]
    for member in members:
        if member.relationship != BILLING_ONLY:
            _contact(world, company, member, organisation_id=organisation_id, since=since)
    if client or world.chance(0.1):
        _credit_checks(world, organisation_id, members, since=since, client=client)
    if client:
        billed = [
            m.person for m in members if m.relationship in (CLIENT, ORDER_CONTACT, BILLING_ONLY)
        ]
        accounts.open_account(world, company, since=since, main=members[0].person, contacts=billed)
    if rng.random() < 0.2:
        marketing.anonymous_visitor(world)


def _member(world: World, company: Company, *, first: bool, client: bool, size: int) -> Member:
    rng = world.rng
    if first:
        relationship = CLIENT if client else ENQUIRER
    elif client:
        relationship = rng.choices(
            (ORDER_CONTACT, CLIENT, MARKETING_CONTACT, BILLING_ONLY), weights=(45, 25, 15, 15)
        )[0]
    else:
        relationship = rng.choice((ENQUIRER, MARKETING_CONTACT))
    department = None
    if relationship == BILLING_ONLY:
        department = rng.choice(BILLING_DEPARTMENTS)
    elif first and size <= 3:
        department = "Executive"  # in a small company the director deals with suppliers
    # Sole traders often use a personal address.
    domain = None if size == 1 and world.chance(0.4) else company.domain
    return Member(world.directory.person(domain=domain, department=department), relationship)


def _contact(
    world: World, company: Company, member: Member, *, organisation_id: int, since: dt.date
) -> None:
    person, relationship = member.person, member.relationship
    contact_id = world.next_id(CONTACTS)
    opted_in = world.chance(OPT_IN[relationship])
    world.emit(
        CONTACTS,
        {
            "id": contact_id,
            "email": person.email,
            "phone": person.phone.international,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "job_title": person.job_title,
            "department": person.department,
            "address": company.address.line,
            "relationship": relationship,
            "marketing_opt_in": opted_in,
            "organisation_id": organisation_id,
        },
    )
    joined = world.day_between(since, world.as_of)
    visitor = None
    first_form_at: dt.datetime | None = None
    low, high = ENQUIRY_COUNTS[relationship]
    for _ in range(world.rng.randint(low, high)):
        received_at = world.at_work(world.day_between(joined, world.as_of))
        message = enquiry_message(world.rng, company.address.city)
        if world.chance(0.6):  # through the website's form, which the CRM picks up
            submitted_at = received_at - dt.timedelta(seconds=world.rng.randint(3, 90))
            first_form_at = min(first_form_at or submitted_at, submitted_at)
            visitor = visitor or marketing.new_visitor(world)
            marketing.session(world, visitor, ends_at=submitted_at, last_page="/contact")
            marketing.submit_form(
                world,
                person,
                email=accounts.spelt(world, person.email, variants=0.15),
                company=company.name,
                message=message,
                opt_in=opted_in,
                at=submitted_at,
            )
        world.emit(
            ENQUIRIES,
            {
                "id": world.next_id(ENQUIRIES),
                "contact_id": contact_id,
                "message": message,
                "passed_to_group_company": (
                    world.rng.choice(GROUP_COMPANIES) if world.chance(0.15) else None
                ),
                "received_at": received_at,
            },
        )
    if world.chance(QUOTE_CHANCE[relationship]):
        world.emit(
            QUOTES,
            {
                "id": world.next_id(QUOTES),
                "contact_id": contact_id,
                "items": [
                    {"product": p.name, "quantity": q, "unit_price": str(p.unit_price)}
                    for p, q in quote_lines(world.rng, count=world.rng.randint(1, 3))
                ],
                "issued_on": world.day_between(joined, world.as_of),
            },
        )
    if opted_in and first_form_at is not None:
        marketing.subscribe(
            world, person, company=company.name, at=first_form_at, source="website enquiry form"
        )
    elif opted_in:
        marketing.subscribe(
            world,
            person,
            company=company.name,
            at=world.at_work(joined),
            source=world.rng.choice(CONSENT_SOURCES),
        )
    elif world.chance(0.2):  # once subscribed, since unsubscribed or bounced
        marketing.suppress(world, person.email, after=joined)
    if visitor is None and world.chance(0.3):
        visitor = marketing.new_visitor(world)
    if visitor is not None:
        marketing.browse(world, visitor, since=joined, sessions=world.rng.randint(0, 4))


def _credit_checks(
    world: World, organisation_id: int, members: list[Member], *, since: dt.date, client: bool
) -> None:
    directors = [m.person.name for m in members if m.person.department == "Executive"]
    officers = directors[:2] + [
        world.directory.officer() for _ in range(world.rng.randint(1, 3) - len(directors[:2]))
    ]
    checked_on = world.day_after(since, low=0, high=10)
    checks = 1 + (world.as_of - checked_on).days // 730 if client else 1  # every two years
    for n in range(checks):
        world.emit(
            CREDIT_CHECKS,
            {
                "id": world.next_id(CREDIT_CHECKS),
                "organisation_id": organisation_id,
                "officers": officers,
                "result": credit_result(world.rng),
                "checked_on": checked_on + dt.timedelta(days=730 * n),
            },
        )
