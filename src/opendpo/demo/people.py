"""The demo's generated people and the companies they work for.

Names come from Faker's en_GB provider; everything a person can be found by (email, phone)
is unique across the estate, and every address is under a reserved domain (`.example`,
`example.com`, RFC 2606) or in Ofcom's drama telephone ranges, so no generated record is a
real person's mailbox or line.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from faker import Faker

from opendpo.demo.places import Address, Phone, PhoneBook, address

# Departments of the clients' and prospects' staff, with the titles people hold in them.
DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "Facilities": ("Facilities Manager", "Facilities Coordinator", "Head of Facilities"),
    "Office Management": ("Office Manager", "Office Administrator", "Front of House Manager"),
    "Workplace": ("Workplace Experience Manager", "Head of Workplace", "Workplace Coordinator"),
    "IT": ("IT Manager", "IT Support Analyst", "Head of IT", "Systems Administrator"),
    "Human Resources": ("HR Manager", "HR Business Partner", "People Operations Lead"),
    "Operations": ("Operations Manager", "Operations Director", "Site Manager"),
    "Health and Safety": ("Health and Safety Manager", "Compliance Officer"),
    "Procurement": ("Procurement Manager", "Purchasing Officer", "Buyer"),
    "Finance": ("Finance Manager", "Financial Controller", "Accounts Payable Clerk"),
    "Executive": ("Managing Director", "Director", "Chief Operating Officer"),
}
# Where the people who receive invoices and pay them sit.
BILLING_DEPARTMENTS = ("Finance", "Procurement", "IT")
SECTORS = (
    ("Logistics", "Ltd"), ("Engineering", "Ltd"), ("Consulting", "Ltd"), ("Architects", "LLP"),
    ("Solicitors", "LLP"), ("Accountants", "LLP"), ("Property", "Ltd"), ("Dental Care", "Ltd"),
    ("Manufacturing", "Ltd"), ("Recruitment", "Ltd"), ("Construction", "Ltd"),
    ("Healthcare", "Ltd"), ("Technology", "Ltd"), ("Media", "Ltd"), ("Estates", "Ltd"),
    ("Hotels", "Ltd"), ("Veterinary Group", "Ltd"), ("Foods", "plc"), ("Energy", "plc"),
    ("Housing Association", "Limited"), ("Print", "Ltd"), ("Labs", "Ltd"),
)  # fmt: skip
PERSONAL_DOMAINS = ("example.com", "example.net", "example.org")
_NOT_IN_ADDRESSES = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str  # lower case; unique, ignoring case, across the estate
    phone: Phone
    department: str
    job_title: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Company:
    name: str
    domain: str  # unique; people's work addresses are under it
    registration_number: str
    vat_number: str | None
    address: Address


def case_variant(email: str) -> str:
    """The address as someone typed it with capitals: `Jane.Example@Example.com`."""
    local, _, domain = email.partition("@")
    first, dot, rest = domain.partition(".")
    capitalised = ".".join(part[:1].upper() + part[1:] for part in local.split("."))
    return f"{capitalised}@{first[:1].upper()}{first[1:]}{dot}{rest}"


def _slug(text: str) -> str:
    return _NOT_IN_ADDRESSES.sub("-", text.lower().replace("'", "").replace("&", "and")).strip("-")


class Directory:
    """Draws people and companies; remembers every email, domain and company number given."""

    def __init__(
        self,
        rng: random.Random,
        fake: Faker,
        *,
        reserved_emails: frozenset[str] = frozenset(),
        reserved_phones: frozenset[Phone] = frozenset(),
        reserved_registrations: frozenset[str] = frozenset(),
    ) -> None:
        self._rng = rng
        self._fake = fake
        self._phones = PhoneBook(rng, reserved=reserved_phones)
        self._emails = {email.lower() for email in reserved_emails}
        self._domains: set[str] = set()
        self._registrations = set(reserved_registrations)

    def company(self) -> Company:
        rng = self._rng
        founder = self._fake.last_name()
        sector, suffix = rng.choice(SECTORS)
        roll = rng.random()
        if roll < 0.45:
            core = f"{founder} {sector}"
        elif roll < 0.75:
            core = f"{founder} & {self._fake.last_name()} {sector}"
        else:
            core = f"{founder}-{self._fake.last_name()}"
        domain = self._unique_domain(_slug(core.removesuffix(f" {sector}")))
        return Company(
            name=f"{core} {suffix}",
            domain=domain,
            registration_number=self._registration(suffix),
            vat_number=f"GB{rng.randrange(10**8, 10**9)}" if rng.random() < 0.8 else None,
            address=address(rng, business=True),
        )

    def person(self, *, domain: str | None, department: str | None = None) -> Person:
        """Someone working at `domain` (None: a personal address) in a department."""
        rng = self._rng
        if rng.random() < 0.5:
            first = self._fake.first_name_female()
        else:
            first = self._fake.first_name_male()
        last = self._fake.last_name()
        department = department or rng.choice(tuple(DEPARTMENTS))
        return Person(
            first_name=first,
            last_name=last,
            email=self._email(first, last, domain),
            phone=self._phones.next(),
            department=department,
            job_title=rng.choice(DEPARTMENTS[department]),
        )

    def officer(self) -> str:
        """A director's name, as a credit reference agency's report lists it."""
        return f"{self._fake.first_name()} {self._fake.last_name()}"

    def home_address(self) -> Address:
        return address(self._rng, business=False)

    def _email(self, first: str, last: str, domain: str | None) -> str:
        rng = self._rng
        f, la = _slug(first), _slug(last)
        if domain is None:
            domain = rng.choice(PERSONAL_DOMAINS)
            local = f"{f}.{la}{rng.randint(1, 99)}" if rng.random() < 0.6 else f"{f[0]}{la}"
        else:
            local = rng.choice((f"{f}.{la}", f"{f}.{la}", f"{f[0]}.{la}", f"{f}{la}", f))
        email = f"{local}@{domain}"
        n = 2
        while email in self._emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self._emails.add(email)
        return email

    def _unique_domain(self, stem: str) -> str:
        domain = f"{stem}.example"
        n = 2
        while domain in self._domains:
            domain = f"{stem}-{n}.example"
            n += 1
        self._domains.add(domain)
        return domain

    def _registration(self, suffix: str) -> str:
        # Companies House numbers: eight digits; LLPs start "OC", Scottish companies "SC".
        while True:
            roll = self._rng.random()
            if suffix == "LLP":
                number = f"OC{self._rng.randrange(300000, 450000)}"
            elif roll < 0.08:
                number = f"SC{self._rng.randrange(100000, 800000)}"
            else:
                number = f"{self._rng.randrange(1_000_000, 16_000_000):08d}"
            if number not in self._registrations:
                self._registrations.add(number)
                return number
