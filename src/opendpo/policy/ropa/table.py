"""The records as flat rows, with stable column names after the Art 30(1) fields.

CSV and the spreadsheet share these columns, so a column never means two things.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from opendpo.policy.ropa.records import (
    ControllerRecord,
    LawfulBasis,
    ProcessingActivity,
    RecipientRecord,
    RecordsOfProcessing,
)

LIST_SEPARATOR = "; "


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[ProcessingActivity, ControllerRecord], str]
    width: int  # characters, for the spreadsheet


def joined(items: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(items)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def controller_line(controller: ControllerRecord) -> str:
    parts = [controller.legal_name]
    if controller.trading_name:
        parts.append(f"trading as {controller.trading_name}")
    if controller.company_number:
        parts.append(f"company number {controller.company_number}")
    parts.append(controller.registered_address)
    return ", ".join(parts)


def dpo_line(controller: ControllerRecord) -> str:
    dpo = controller.dpo
    contacts = [dpo.name, dpo.email, dpo.phone, dpo.post]
    return ", ".join(part for part in contacts if part)


def _reasoning(basis: LawfulBasis) -> str:
    reasoning = basis.legitimate_interest
    if reasoning is None:
        return ""
    return joined(
        [
            f"Interest: {reasoning.interest}",
            f"Necessity: {reasoning.necessity}",
            f"Balancing: {reasoning.balancing}",
        ]
    )


def _recipient(recipient: RecipientRecord) -> str:
    # "Courier (courier, controller, GB)"; a processor's kind and role are said once.
    details = dict.fromkeys(
        [recipient.kind_name.lower(), recipient.role_name.lower(), recipient.country]
    )
    return f"{recipient.name} ({', '.join(details)})"


ACTIVITY_COLUMNS: tuple[Column, ...] = (
    Column("Purpose key", lambda a, c: a.key, 24),
    Column("Purpose (Art 30(1)(b))", lambda a, c: a.name, 32),
    Column("Description", lambda a, c: a.description, 50),
    Column("Lawful basis (Art 6(1))", lambda a, c: a.lawful_basis.label, 26),
    Column("Legitimate interests", lambda a, c: _reasoning(a.lawful_basis), 50),
    Column(
        "Special category condition (Art 9(2))",
        lambda a, c: a.special_category_condition.label if a.special_category_condition else "",
        26,
    ),
    Column(
        "Categories of data subjects (Art 30(1)(c))",
        lambda a, c: joined(subject.name for subject in a.data_subjects),
        32,
    ),
    Column(
        "Categories of personal data (Art 30(1)(c))",
        lambda a, c: joined(f"{d.name} ({d.key})" for d in a.data_categories),
        50,
    ),
    Column(
        "Special category data",
        lambda a, c: joined(f"{d.name} ({d.key})" for d in a.special_categories),
        26,
    ),
    Column(
        "Categories of recipients (Art 30(1)(d))",
        lambda a, c: joined(_recipient(r) for r in a.recipients),
        50,
    ),
    Column("Third countries (Art 30(1)(d))", lambda a, c: joined(a.third_countries), 18),
    Column(
        "Transfers and safeguards (Art 30(1)(e))",
        lambda a, c: joined(transfer.label for transfer in a.transfers),
        40,
    ),
    Column(
        "Retention limits (Art 30(1)(f))",
        lambda a, c: joined(limit.label for limit in a.retention),
        60,
    ),
    Column("Security measures (Art 30(1)(g))", lambda a, c: joined(a.security_measures), 50),
    Column("Systems", lambda a, c: joined(system.name for system in a.systems), 26),
    Column("Sources", lambda a, c: joined(source.description for source in a.sources), 32),
    Column("Data uses", lambda a, c: joined(f"{u.name} ({u.key})" for u in a.data_uses), 40),
    Column("Direct marketing", lambda a, c: yes_no(a.direct_marketing), 10),
    Column("Analytics", lambda a, c: yes_no(a.analytics), 10),
    Column("Research", lambda a, c: yes_no(a.research), 10),
    Column("Controller (Art 30(1)(a))", lambda a, c: controller_line(c), 40),
    Column("Data protection officer (Art 30(1)(a))", lambda a, c: dpo_line(c), 40),
)


def activity_header() -> list[str]:
    return [column.title for column in ACTIVITY_COLUMNS]


def activity_rows(records: RecordsOfProcessing) -> Iterator[list[str]]:
    """One row per processing activity, in the policy's order."""
    for activity in records.activities:
        yield [column.value(activity, records.controller) for column in ACTIVITY_COLUMNS]


def controller_rows(records: RecordsOfProcessing) -> list[tuple[str, str]]:
    """The controller block as (field, value) pairs."""
    controller = records.controller
    dpo = controller.dpo
    authority = controller.supervisory_authority
    return [
        ("Controller (Art 30(1)(a))", controller.legal_name),
        ("Trading name", controller.trading_name or ""),
        ("Company number", controller.company_number or ""),
        ("Group parent", controller.group_parent or ""),
        ("Registered address", controller.registered_address),
        ("Data protection officer", dpo.name),
        ("DPO email", dpo.email),
        ("DPO phone", dpo.phone or ""),
        ("DPO postal address", dpo.post),
        (
            "Group companies",
            joined(
                f"{company.name} ({company.relationship}, {company.country})"
                for company in controller.group_companies
            ),
        ),
        ("Supervisory authority", f"{authority.name} ({authority.url})"),
        ("Security measures (Art 30(1)(g))", joined(controller.security_measures)),
        ("Notice version", records.notice_version),
        ("Notice effective date", records.notice_effective_date.isoformat()),
        (
            "Policy version",
            str(records.policy_version) if records.policy_version is not None else "",
        ),
        ("Generated at", records.generated_at.isoformat(timespec="seconds")),
    ]
