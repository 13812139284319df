"""A few people of a built estate for a newcomer to try requests on.

Jane Example comes first (the docs follow her); then the CRM's earliest contacts known to
the most systems, so that an access request shows data gathered from across the estate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import create_engine, func, select

from opendpo.demo import jane
from opendpo.demo.schema import BILLING, CRM, EMAIL_PLATFORM, WEBSITE, dataset_metadata

# Where each system keeps people's addresses: (dataset, table, column).
EMAIL_COLUMNS = (
    (BILLING, "customer_contacts", "email"),
    (EMAIL_PLATFORM, "subscribers", "email"),
    (WEBSITE, "form_submissions", "email"),
)
CANDIDATES = 500


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    datasets: tuple[str, ...]  # the datasets holding their address, the CRM first


def people_to_try(urls: Mapping[str, str], *, count: int) -> list[DemoPerson]:
    """Jane Example and up to `count` - 1 more CRM contacts, those in most datasets first."""
    if CRM not in urls or count < 1:
        return []
    contacts = dataset_metadata(CRM).tables["contacts"]
    engine = create_engine(urls[CRM])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(contacts.c.email, contacts.c.first_name, contacts.c.last_name)
                .where(contacts.c.email.is_not(None))
                .order_by(contacts.c.id)
                .limit(CANDIDATES)
            ).all()
    finally:
        engine.dispose()
    names = {
        row.email.lower(): f"{row.first_name or ''} {row.last_name or ''}".strip() for row in rows
    }
    holders: dict[str, list[str]] = {email: [CRM] for email in names}
    for dataset, table_name, column_name in EMAIL_COLUMNS:
        if dataset not in urls:
            continue
        for email in _present(urls[dataset], dataset, table_name, column_name, list(names)):
            if dataset not in holders[email]:
                holders[email].append(dataset)
    position = {email: index for index, email in enumerate(names)}
    ranked = sorted(names, key=lambda e: (e != jane.EMAIL, -len(holders[e]), position[e]))
    return [DemoPerson(e, names[e], tuple(holders[e])) for e in ranked[:count]]


def _present(
    url: str, dataset: str, table_name: str, column_name: str, emails: list[str]
) -> set[str]:
    """Which of `emails` the column holds, in any case (forms keep addresses as typed)."""
    column = dataset_metadata(dataset).tables[table_name].c[column_name]
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.scalars(
                select(func.lower(column)).where(func.lower(column).in_(emails)).distinct()
            )
            return set(found)
    finally:
        engine.dispose()
