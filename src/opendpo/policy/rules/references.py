"""Every key a policy names must be declared, exactly once."""

from __future__ import annotations

from opendpo.policy.rules.context import RuleContext


def check_references(ctx: RuleContext) -> None:
    doc = ctx.document
    vocab = ctx.vocabulary
    ctx.check_unique("purposes", [p.key for p in doc.purposes], "purpose")
    ctx.check_unique("systems", [s.key for s in doc.systems], "system")
    ctx.check_unique("recipients", [r.key for r in doc.recipients], "recipient")
    ctx.check_unique("retention", [r.key for r in doc.retention], "retention rule")
    ctx.check_unique("data_subjects", [s.key for s in doc.data_subjects], "data subject")
    ctx.check_unique("dataset", [d.fides_key for d in doc.dataset], "dataset")

    subjects = {s.key for s in doc.data_subjects}
    systems = {s.key for s in doc.systems}
    recipients = {r.key for r in doc.recipients}
    rules = {r.key for r in doc.retention}
    routes = {r.key for r in doc.controller.contact_routes}
    datasets = {d.fides_key for d in doc.dataset}
    companies = {c.key for c in doc.controller.group_companies}
    purposes = {p.key for p in doc.purposes}

    for i, subject in enumerate(doc.data_subjects):
        if subject.taxonomy not in vocab.data_subjects:
            ctx.error(
                ("data_subjects", i, "taxonomy"), f"unknown data subject '{subject.taxonomy}'"
            )

    for i, purpose in enumerate(doc.purposes):
        at = ("purposes", i)
        ctx.check_known(
            (*at, "data_categories"),
            purpose.data_categories,
            vocab.data_categories,
            "data category",
        )
        ctx.check_known((*at, "data_uses"), purpose.data_uses, vocab.data_uses, "data use")
        ctx.check_known((*at, "data_subjects"), purpose.data_subjects, subjects, "data subject")
        ctx.check_known((*at, "systems"), purpose.systems, systems, "system")
        ctx.check_known((*at, "recipients"), purpose.recipients, recipients, "recipient")
        if purpose.retention is not None and purpose.retention not in rules:
            ctx.error((*at, "retention"), f"unknown retention rule '{purpose.retention}'")
        for j, source in enumerate(purpose.sources):
            if source.recipient is not None and source.recipient not in recipients:
                ctx.error(
                    (*at, "sources", j, "recipient"), f"unknown recipient '{source.recipient}'"
                )
        if purpose.consent is not None:
            ctx.check_known(
                (*at, "consent", "withdrawal_routes"),
                purpose.consent.withdrawal_routes,
                routes,
                "contact route",
            )

    for i, recipient in enumerate(doc.recipients):
        at = ("recipients", i)
        ctx.check_known((*at, "purposes"), recipient.purposes, purposes, "purpose")
        ctx.check_known(
            (*at, "minimum_fields"),
            recipient.minimum_fields,
            vocab.data_categories,
            "data category",
        )
        if recipient.group_company is not None and recipient.group_company not in companies:
            ctx.error((*at, "group_company"), f"unknown group company '{recipient.group_company}'")

    for i, system in enumerate(doc.systems):
        ctx.check_known(("systems", i, "datasets"), system.datasets, datasets, "dataset")
        if system.hosted_by is not None and system.hosted_by not in recipients:
            ctx.error(("systems", i, "hosted_by"), f"unknown recipient '{system.hosted_by}'")

    for i, rule in enumerate(doc.retention):
        ctx.check_known(("retention", i, "purposes"), rule.purposes, purposes, "purpose")
        ctx.check_known(
            ("retention", i, "data_categories"),
            rule.data_categories,
            vocab.data_categories,
            "data category",
        )

    for i, right in enumerate(doc.rights.available):
        ctx.check_known(("rights", "available", i, "routes"), right.routes, routes, "contact route")
    ctx.check_known(
        ("rights", "complaints", "routes"), doc.rights.complaints.routes, routes, "contact route"
    )

    for i, extension in enumerate(doc.taxonomy.data_categories):
        if extension.parent not in vocab.data_categories:
            ctx.error(
                ("taxonomy", "data_categories", i, "parent"),
                f"unknown parent data category '{extension.parent}'",
            )
    for i, use in enumerate(doc.taxonomy.data_uses):
        if use.parent not in vocab.data_uses:
            ctx.error(
                ("taxonomy", "data_uses", i, "parent"), f"unknown parent data use '{use.parent}'"
            )
