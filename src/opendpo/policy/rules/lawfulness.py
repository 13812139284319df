"""Each purpose must stand on its lawful basis (UK GDPR Arts 6, 7, 9, 21)."""

from __future__ import annotations

from opendpo.policy.rules.context import RuleContext

MARKETING_BASES = ("consent", "legitimate_interests")


def check_lawfulness(ctx: RuleContext) -> None:
    doc = ctx.document
    recipients = {r.key: r for r in doc.recipients}
    for i, purpose in enumerate(doc.purposes):
        at = ("purposes", i)
        if purpose.lawful_basis == "consent":
            if purpose.consent is None:
                ctx.error(
                    (*at, "lawful_basis"),
                    f"consent purpose '{purpose.key}' has no withdrawal route: add "
                    "consent.withdrawal_routes naming contact routes (Art 7(3))",
                )
            elif not purpose.consent.withdrawal_routes:
                ctx.error(
                    (*at, "consent", "withdrawal_routes"),
                    f"consent purpose '{purpose.key}' has no withdrawal route: withdrawing "
                    "must be as easy as giving consent (Art 7(3))",
                )
        elif purpose.consent is not None:
            ctx.error(
                (*at, "consent"),
                f"purpose '{purpose.key}' relies on {purpose.lawful_basis}, not consent: "
                "remove its consent terms or change its lawful basis",
            )
        if purpose.lawful_basis == "legitimate_interests" and purpose.legitimate_interest is None:
            ctx.error(
                (*at, "lawful_basis"),
                f"legitimate-interest purpose '{purpose.key}' has no reasoning: add "
                "legitimate_interest with interest, necessity and balancing",
            )
        if purpose.direct_marketing and purpose.lawful_basis not in MARKETING_BASES:
            ctx.error(
                (*at, "direct_marketing"),
                f"direct marketing purpose '{purpose.key}' must rely on consent or legitimate "
                f"interests, not {purpose.lawful_basis}",
            )
        special = [c for c in purpose.data_categories if ctx.vocabulary.is_special(c)]
        if special and purpose.special_category_condition is None:
            index = purpose.data_categories.index(special[0])
            ctx.error(
                (*at, "data_categories", index),
                f"special category '{special[0]}' needs an Art 9 condition: add "
                "special_category_condition (art9_2_a … art9_2_j)",
            )
        for j, key in enumerate(purpose.recipients):
            recipient = recipients.get(key)
            if recipient is not None and purpose.key not in recipient.purposes:
                ctx.error(
                    (*at, "recipients", j),
                    f"recipient '{key}' does not list purpose '{purpose.key}' among its purposes",
                )

    purposes = {p.key: p for p in doc.purposes}
    for i, recipient in enumerate(doc.recipients):
        allowed: set[str] = set()
        for key in recipient.purposes:
            if key in purposes:
                allowed.update(purposes[key].data_categories)
        if not allowed:
            continue
        for j, category in enumerate(recipient.minimum_fields):
            if category not in allowed and not any(category.startswith(a + ".") for a in allowed):
                ctx.error(
                    ("recipients", i, "minimum_fields", j),
                    f"recipient '{recipient.key}' may receive '{category}', which none of its "
                    "purposes uses",
                )
