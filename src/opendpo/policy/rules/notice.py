"""The notice's own promises: versions, rights and cookies must be coherent."""

from __future__ import annotations

from opendpo.policy.model.notice import CONSENT_NEEDED_FOR
from opendpo.policy.rules.context import RuleContext


def check_notice(ctx: RuleContext) -> None:
    doc = ctx.document
    notice = doc.notice
    versions = [change.version for change in notice.changes]
    if notice.version not in versions:
        ctx.error(
            ("notice", "version"),
            f"notice version '{notice.version}' has no entry in notice.changes",
        )
    purposes = {p.key for p in doc.purposes}
    for i, change in enumerate(notice.changes):
        ctx.check_known(("notice", "changes", i, "purposes"), change.purposes, purposes, "purpose")
        if versions.index(change.version) != i:
            ctx.error(
                ("notice", "changes", i, "version"),
                f"notice version '{change.version}' appears twice in the change log",
            )

    seen: dict[str, int] = {}
    for i, right in enumerate(doc.rights.available):
        if right.key in seen:
            ctx.error(("rights", "available", i, "key"), f"right '{right.key}' is listed twice")
        seen[right.key] = i

    if doc.cookies is None:
        return
    declared = {c.key for c in doc.cookies.categories}
    for i, category in enumerate(doc.cookies.categories):
        at = ("cookies", "categories", i)
        if category.key in CONSENT_NEEDED_FOR and category.consent != "required":
            ctx.error(
                (*at, "consent"),
                f"{category.key} cookies need opt-in consent (PECR reg 6): set consent: required",
            )
        if category.key == "strictly_necessary" and category.consent != "not_required":
            ctx.warning((*at, "consent"), "strictly necessary cookies need no consent")
        ctx.check_known((*at, "purposes"), category.purposes, purposes, "purpose")
    for i, cookie in enumerate(doc.cookies.cookies):
        if cookie.category not in declared:
            ctx.error(
                ("cookies", "cookies", i, "category"),
                f"cookie '{cookie.name}' is in undeclared category '{cookie.category}'",
            )
