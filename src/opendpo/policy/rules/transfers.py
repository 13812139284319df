"""Sharing outside the UK needs a transfer mechanism; recipients need due diligence."""

from __future__ import annotations

import datetime as dt

from opendpo.policy.rules.context import RuleContext

# Countries covered by UK adequacy regulations (DPA 2018 s.17A; EEA states plus others).
UK_ADEQUATE = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IS",
        "IE",
        "IT",
        "LV",
        "LI",
        "LT",
        "LU",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "AD",
        "AR",
        "CA",
        "FO",
        "GG",
        "IM",
        "IL",
        "JP",
        "JE",
        "NZ",
        "KR",
        "CH",
        "UY",
        "GI",
        "US",
    ]
)
EU_SCCS_ENDED = dt.date(2024, 3, 21)


def check_transfers(ctx: RuleContext, today: dt.date | None = None) -> None:
    today = today or dt.date.today()
    for i, recipient in enumerate(ctx.document.recipients):
        at = ("recipients", i)
        mechanism = recipient.transfer_mechanism
        if recipient.country != "GB" and mechanism is None:
            ctx.error(
                (*at, "country"),
                f"recipient '{recipient.key}' is in {recipient.country}, outside the UK, and has "
                "no transfer_mechanism (adequacy, idta, uk_addendum, binding_corporate_rules)",
            )
        if mechanism == "eu_sccs":
            ctx.error(
                (*at, "transfer_mechanism"),
                f"the EU SCCs alone stopped being valid for UK transfers on {EU_SCCS_ENDED}: "
                "use uk_addendum (the UK Addendum to the EU SCCs) or idta",
            )
        if mechanism == "adequacy" and recipient.country not in UK_ADEQUATE | {"GB"}:
            ctx.error(
                (*at, "transfer_mechanism"),
                f"{recipient.country} has no UK adequacy regulations: use idta or uk_addendum",
            )
        diligence = recipient.due_diligence
        if recipient.role == "processor" and (diligence is None or diligence.dpa_signed_on is None):
            ctx.warning(
                at,
                f"processor '{recipient.key}' has no signed data processing agreement "
                "(Art 28(3)): record due_diligence.dpa_signed_on",
            )
        review = diligence.next_review_on if diligence is not None else None
        if review is not None and review < today:
            ctx.warning(
                (*at, "due_diligence", "next_review_on"),
                f"due diligence review of '{recipient.key}' was due on {review}",
            )
