"""The plain-language report in an access package: what UK GDPR Art 15 says a person gets.

Everything in it is derived from two things only: what the request found (per system and
collection, the data categories and how many records) and the policy in force. Purposes,
recipients, retention and sources are those the policy gives for the categories found in
the systems they were found in; nothing is said that the policy does not say (recipients are
the policy's categories of recipients, not a log of disclosures).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from opendpo.execution.package_contents import category_covers, purposes_using
from opendpo.execution.report_facts import (
    FoundCollection,
    Holding,
    PurposeFact,
    RecipientFact,
    ReportFacts,
    RequestFacts,
    RetentionFact,
    RightFact,
    Route,
    SourceFact,
)
from opendpo.policy.model.base import describe_duration
from opendpo.policy.model.controller import ContactRoute
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.purposes import LAWFUL_BASIS_NAMES, Purpose
from opendpo.policy.model.sharing import Recipient
from opendpo.policy.model.systems import RetentionRule
from opendpo.policy.taxonomy import vocabulary
from opendpo.policy.wording import (
    CLOCK_START,
    LAWFUL_BASIS,
    RECIPIENT_KIND,
    RETENTION_ACTION,
    ROLE,
    TRANSFER_MECHANISM,
    country_name,
    humanise_category,
    word,
)
from opendpo.rights.calendar import local_date

TEMPLATE = "report.html"
PORTABILITY_RULE = (
    "A copy of the data you gave us, or that your use of our services shows, which we use "
    "with your consent or to carry out a contract with you, in JSON and CSV files that any "
    "computer can read; we can send it to you or straight to another organisation. It does "
    "not include data that came to us from someone else, such as a credit reference "
    "agency's report."
)
SOURCE_KIND = {
    "observed": "Observed as you use our website and services",
    "third_party": "From a third party",
    "group_company": "From another company in our group",
}
IDENTITY_KIND = {"email": "Email", "phone": "Telephone", "customer_id": "Customer number"}


def mask(kind: str, value: str) -> str:
    """Enough of an identity to recognise it, not enough to learn it: j***@example.com."""
    if kind == "email" and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "phone" and len(value) > 6:
        return f"{value[:3]}***{value[-3:]}"
    return f"{value[:1]}***{value[-1:]}" if len(value) > 4 else "***"


def _route(route: ContactRoute, site_url: str | None) -> Route:
    value = route.value
    if route.kind == "email":
        return Route(f"email {value}", f"mailto:{value}")
    if route.kind == "phone":
        return Route(f"call {value}", "tel:" + value.replace(" ", "").replace("(0)", ""))
    if route.kind == "post":
        return Route(f"write to {value}", None)
    if route.kind == "unsubscribe_link":
        return Route("use the unsubscribe link at the bottom of any marketing email", None)
    href = value if "://" in value else (site_url.rstrip("/") + value if site_url else None)
    label = "our preference centre" if route.kind == "preference_centre" else "our online form"
    return Route(f"use {label}" + ("" if href else f" ({value} on our website)"), href)


def _routes(policy: PolicyDocument, keys: Sequence[str], site_url: str | None) -> tuple[Route, ...]:
    known = {route.key: route for route in policy.controller.contact_routes}
    return tuple(_route(known[key], site_url) for key in keys if key in known)


def _recipient(recipient: Recipient, purposes: list[str]) -> RecipientFact:
    transfer = None
    if recipient.country != "GB":
        transfer = country_name(recipient.country)
        if recipient.transfer_mechanism:
            mechanism = TRANSFER_MECHANISM[recipient.transfer_mechanism]
            transfer += f", protected by {mechanism}"
    return RecipientFact(
        name=recipient.name,
        kind=word(RECIPIENT_KIND, recipient.kind),
        role=word(ROLE, recipient.role),
        circumstances=recipient.circumstances,
        transfer=transfer,
        purposes=tuple(purposes),
    )


def _retention(rule: RetentionRule, purposes: list[str]) -> RetentionFact:
    return RetentionFact(
        name=rule.name,
        period=describe_duration(rule.period),
        starts=CLOCK_START[rule.starts],
        action=RETENTION_ACTION[rule.action],
        legal_reason=rule.legal_reason,
        purposes=tuple(purposes),
    )


def _overlaps(categories: Sequence[str], found: set[str]) -> bool:
    """Whether any category found lies under, or above, one of `categories`."""
    return not categories or any(
        category_covers(c, f) or category_covers(f, c) for c in categories for f in found
    )


Uses = dict[str, tuple[dict[str, None], dict[str, None]]]


def _uses(
    policy: PolicyDocument, found: Sequence[FoundCollection], systems: dict[str, str]
) -> Uses:
    """Purpose key -> (categories found that it uses, names of the systems they were in)."""
    used: Uses = {}
    for item in found:
        for category in item.categories:
            for purpose in purposes_using(policy, item.system, category):
                categories, where = used.setdefault(purpose.key, ({}, {}))
                categories[category] = None
                where[systems.get(item.system, item.system)] = None
    return used


def _recipients(
    policy: PolicyDocument, purposes: list[Purpose], used: Uses
) -> dict[str, list[str]]:
    """Recipient key -> names of the purposes for which it may receive some of what was found."""
    chosen: dict[str, list[str]] = {}
    for purpose in purposes:
        for recipient in policy.recipients:
            linked = purpose.key in recipient.purposes or recipient.key in purpose.recipients
            if linked and _overlaps(recipient.minimum_fields, set(used[purpose.key][0])):
                chosen.setdefault(recipient.key, []).append(purpose.name)
    return chosen


def _rules(
    policy: PolicyDocument, purposes: list[Purpose], used: Uses, found: set[str]
) -> dict[str, list[str]]:
    """Retention rule key -> names of the purposes found that it limits."""
    chosen: dict[str, list[str]] = {}
    for purpose in purposes:
        for rule in policy.retention:
            applies = rule.key == purpose.retention or purpose.key in rule.purposes
            if applies and _overlaps(rule.data_categories, set(used[purpose.key][0])):
                chosen.setdefault(rule.key, []).append(purpose.name)
    for rule in policy.retention:
        if not rule.purposes and _overlaps(rule.data_categories, found):
            chosen.setdefault(rule.key, [])
    return chosen


def build_report(
    policy: PolicyDocument,
    *,
    found: Sequence[FoundCollection],
    request: RequestFacts,
    now: dt.datetime | None = None,
    site_url: str | None = None,
) -> ReportFacts:
    """The facts of the report; `site_url` makes the privacy centre's own pages linkable."""
    names = vocabulary(policy.taxonomy).data_categories
    systems = {system.key: system.name for system in policy.systems}

    def category_name(key: str) -> str:
        words = humanise_category(names.get(key, key)).split(" ")
        # fideslang's Title Case reads oddly in a sentence; acronyms (IP, ID) stay.
        return " ".join(words[:1] + [w if w.isupper() else w.lower() for w in words[1:]])

    used = _uses(policy, found, systems)
    purposes = [p for p in policy.purposes if p.key in used]
    recipients = _recipients(policy, purposes, used)
    rules = _rules(policy, purposes, used, {c for item in found for c in item.categories})
    limited = {name for purpose_names in rules.values() for name in purpose_names}

    controller = policy.controller
    authority = controller.supervisory_authority
    moment = now or dt.datetime.now(dt.UTC)
    return ReportFacts(
        language=policy.notice.language,
        controller=controller.display_name,
        reference=request.reference,
        received_on=local_date(request.received_at),
        generated_on=local_date(moment),
        identities=tuple(
            f"{IDENTITY_KIND.get(kind, kind.replace('_', ' ').capitalize())}: {mask(kind, value)}"
            for kind, value in request.identities
        ),
        holdings=tuple(
            Holding(
                system=systems.get(item.system, item.system),
                collection=item.collection,
                rows=item.rows,
                categories=tuple(dict.fromkeys(category_name(c) for c in item.categories)),
            )
            for item in found
        ),
        purposes=tuple(_purpose(p, used[p.key], category_name) for p in purposes),
        # In the policy's order, as the notice lists them.
        recipients=tuple(
            _recipient(r, recipients[r.key]) for r in policy.recipients if r.key in recipients
        ),
        retention=tuple(_retention(r, rules[r.key]) for r in policy.retention if r.key in rules),
        without_retention=tuple(p.name for p in purposes if p.name not in limited),
        sources=tuple(
            SourceFact(
                purpose=purpose.name,
                kind=SOURCE_KIND[source.kind],
                description=source.description,
                party=policy.recipient(source.recipient).name if source.recipient else None,
            )
            for purpose in purposes
            for source in purpose.sources
            if source.kind in SOURCE_KIND
        ),
        automated_decisions=policy.rights.automated_decision_making,
        rights=tuple(
            RightFact(
                right.key, right.name, right.description, _routes(policy, right.routes, site_url)
            )
            for right in policy.rights.available
        ),
        portability_rule=PORTABILITY_RULE,
        complaint_routes=_routes(policy, policy.rights.complaints.routes, site_url),
        complaint_days=policy.rights.complaints.acknowledge_within_days,
        authority=authority.name,
        authority_url=authority.url,
        authority_phone=authority.phone,
        dpo_name=controller.dpo.name,
        dpo_email=str(controller.dpo.email),
        dpo_phone=controller.dpo.phone,
        dpo_post=controller.dpo.post.one_line(),
    )


def _purpose(
    purpose: Purpose,
    used: tuple[dict[str, None], dict[str, None]],
    category_name: Callable[[str], str],
) -> PurposeFact:
    categories, systems = used
    interest = purpose.legitimate_interest.interest if purpose.legitimate_interest else None
    return PurposeFact(
        name=purpose.name,
        description=purpose.description,
        lawful_basis=f"{LAWFUL_BASIS_NAMES[purpose.lawful_basis]} ({purpose.article})",
        basis_explained=LAWFUL_BASIS[purpose.lawful_basis],
        interest=interest,
        categories=tuple(dict.fromkeys(category_name(c) for c in categories)),
        systems=tuple(systems),
    )


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("opendpo.execution", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(facts: ReportFacts) -> str:
    """A self-contained page: inline styles, no scripts, nothing fetched from elsewhere."""
    return _environment().get_template(TEMPLATE).render(report=facts)
