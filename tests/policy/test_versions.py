"""Applying a policy stores a version; applying it again changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from opendpo.policy.loader import load_policy
from opendpo.policy.versions import apply_policy, current_version, list_versions


def test_apply_is_idempotent_and_versions_changes(
    session: Session, minimal_policy: Path, tmp_path: Path
) -> None:
    document = load_policy(minimal_policy).document
    first = apply_policy(session=session, document=document, source="a", applied_by="t")
    again = apply_policy(session=session, document=document, source="a", applied_by="t")
    assert first.created and not again.created
    assert again.version.number == 1

    changed = tmp_path / "changed.yaml"
    changed.write_text(minimal_policy.read_text().replace("period: P2Y", "period: P3Y"))
    second = apply_policy(
        session=session, document=load_policy(changed).document, source="b", applied_by="t"
    )
    session.commit()
    assert second.created and second.version.number == 2
    assert [(c.kind, c.section, c.key, c.fields) for c in second.diff.changes] == [
        ("changed", "retention", "marketing_consent", ("period",))
    ]
    current = current_version(session=session)
    assert current is not None and current.policy().retention_rule("marketing_consent").period == (
        "P3Y"
    )
    assert [v.number for v in list_versions(session=session)] == [1, 2]
