"""Re-consent: a material change of a consent purpose marks the consents given to it, the
decision point treats them as the policy says, and `opendpo policy apply` does it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from consent_helpers import PURPOSE, Applied, answer, apply, with_consent_terms, with_purpose
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opendpo.consent.ledger import ConsentState, CurrentConsent
from opendpo.consent.renewal import changed_materially, mark_renewals
from opendpo.decisions.decide import decide
from opendpo.decisions.rules import Reason
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import document_json
from opendpo.security import audit
from opendpo.security.audit import AuditQuery
from opendpo.security.keyring import Keyring

GIVEN, WITHDRAWN = ConsentState.GIVEN, ConsentState.WITHDRAWN


def marks(session: Session) -> dict[str, bool]:
    session.expire_all()
    return {
        f"{c.person_id[:4]}:{c.state}": c.needs_renewal
        for c in session.scalars(select(CurrentConsent))
    }


@pytest.mark.parametrize(
    ("change", "material"),
    [
        ({"consent": {"wording": "New words"}}, True),
        ({"consent": {"channels": ["email", "post"]}}, True),
        ({"data_uses": ["marketing.communications"]}, True),
        ({"data_categories": ["user.name", "user.contact.email", "user.job_title"]}, True),
        ({"recipients": ["courier"]}, True),
        ({"description": "A new description of the same thing."}, False),
        ({"name": "Email news"}, False),
        ({"systems": []}, False),
    ],
)
def test_what_counts_as_material(
    minimal_document: PolicyDocument, change: dict[str, object], material: bool
) -> None:
    terms = change.pop("consent", None)
    changed = with_purpose(minimal_document, PURPOSE, **change)
    if isinstance(terms, dict):
        changed = with_consent_terms(changed, PURPOSE, **terms)
    assert changed_materially(minimal_document, changed) == ([PURPOSE] if material else [])
    assert changed_materially(None, changed) == []


def test_a_new_wording_marks_given_consents_only(
    engine: Engine, session: Session, keyring: Keyring, applied: Applied
) -> None:
    answer(session, keyring, applied, GIVEN)
    answer(session, keyring, applied, WITHDRAWN, identity=("email", "bob@example.com"))
    reworded = with_consent_terms(applied.document, PURPOSE, wording="Weekly news by email")
    counts = mark_renewals(
        session=session, keyring=keyring, previous=applied.document, current=reworded, version=2
    )
    session.commit()
    assert counts == {PURPOSE: 1}
    assert sorted(marks(session).values()) == [False, True]  # the withdrawn one is not asked
    [entry] = audit.search(session=session, query=AuditQuery(action="consent.renewal_needed"))
    assert entry.details == {"purpose": PURPOSE, "count": 1, "policy_version": 2}
    assert (entry.actor_kind, entry.target_id) == ("system", PURPOSE)
    assert "ann@example.com" not in str(entry.details)


def test_a_new_description_marks_nothing(
    session: Session, keyring: Keyring, applied: Applied
) -> None:
    answer(session, keyring, applied, GIVEN)
    redescribed = with_purpose(applied.document, PURPOSE, description="Our news, by email.")
    assert (
        mark_renewals(
            session=session,
            keyring=keyring,
            previous=applied.document,
            current=redescribed,
            version=2,
        )
        == {}
    )
    assert list(marks(session).values()) == [False]
    assert audit.count(session=session) == 0


@pytest.mark.parametrize(
    ("until_renewed", "allowed", "reasons"),
    [("deny", False, (Reason.RENEWAL_NEEDED,)), ("allow", True, ())],
)
def test_decide_treats_a_marked_consent_as_the_policy_says(
    engine: Engine,
    session: Session,
    keyring: Keyring,
    applied: Applied,
    until_renewed: str,
    allowed: bool,
    reasons: tuple[Reason, ...],
) -> None:
    answer(session, keyring, applied, GIVEN)
    changed = with_consent_terms(
        applied.document, PURPOSE, wording="Weekly news", until_renewed=until_renewed
    )
    version = apply(engine, changed)
    mark_renewals(
        session=session, keyring=keyring, previous=applied.document, current=changed, version=2
    )
    session.commit()
    outcome = decide(
        session=session,
        keyring=keyring,
        policy=changed,
        identity_kind="email",
        identity_value="ann@example.com",
        purpose=PURPOSE,
        channel="email",
    )
    assert (outcome.decision.allowed, outcome.decision.reasons) == (allowed, reasons)
    # A new answer is an answer to the new wording: the mark goes.
    answer(session, keyring, Applied(changed, version), GIVEN)
    assert list(marks(session).values()) == [False]


def write_policy(document: PolicyDocument, path: Path) -> Path:
    path.write_text(yaml.safe_dump(document_json(document), sort_keys=False))
    return path


def test_policy_apply_marks_renewals(
    run: Callable[..., Result],
    engine: Engine,
    session: Session,
    keyring: Keyring,
    minimal_document: PolicyDocument,
    tmp_path: Path,
) -> None:
    first = write_policy(minimal_document, tmp_path / "v1.yaml")
    assert run("policy", "apply", str(first)).exit_code == 0
    answer(session, keyring, Applied(minimal_document, 1), GIVEN)
    reworded = with_consent_terms(minimal_document, PURPOSE, wording="Weekly news by email")
    result = run("policy", "apply", str(write_policy(reworded, tmp_path / "v2.yaml")))
    assert result.exit_code == 0, result.output
    assert f"consent to '{PURPOSE}' changed materially: 1 to be asked again" in result.output
    assert list(marks(session).values()) == [True]
    [entry] = audit.search(session=session, query=AuditQuery(action="consent.renewal_needed"))
    assert entry.actor_kind == "cli"
    # Applying the same policy again is no new version, and asks nobody again.
    again = run("policy", "apply", str(tmp_path / "v2.yaml"))
    assert "changed materially" not in again.output
