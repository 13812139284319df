"""Recipients: who personal data may go to, the minimum they receive, and the checks on them."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from opendpo.errors import NotFound
from opendpo.policy.model.sharing import DueDiligence, Recipient, RecipientKind, TransferMechanism
from opendpo.policy.taxonomy import Vocabulary
from opendpo.security.roles import Permission
from opendpo.web.api.shapes import ItemList, Term, terms
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, VocabularyDep

# Copied unchanged from the policy; the rest is reshaped for readers.
RECIPIENT_FIELDS: set[str] = {
    "key",
    "name",
    "description",
    "kind",
    "role",
    "purposes",
    "circumstances",
    "country",
    "transfer_mechanism",
    "group_company",
}

router = APIRouter(tags=["recipients"], dependencies=[permit(Permission.POLICY_READ)])


def review_overdue(due_diligence: DueDiligence | None, today: dt.date) -> bool:
    """A recipient whose due diligence review date has passed must be checked again."""
    if due_diligence is None or due_diligence.next_review_on is None:
        return False
    return due_diligence.next_review_on < today


class DueDiligencePublic(BaseModel):
    dpa_signed_on: dt.date | None
    nda_signed_on: dt.date | None
    gdpr_assessment_on: dt.date | None
    next_review_on: dt.date | None
    notes: str | None
    review_overdue: bool


class RecipientPublic(BaseModel):
    key: str
    name: str
    description: str | None
    kind: RecipientKind
    role: str
    purposes: list[str]
    minimum_fields: list[Term]
    circumstances: str | None
    country: str
    transfer_mechanism: TransferMechanism | None
    group_company: str | None
    due_diligence: DueDiligencePublic | None

    @classmethod
    def of(cls, recipient: Recipient, vocabulary: Vocabulary, today: dt.date) -> RecipientPublic:
        checks = recipient.due_diligence
        return cls(
            **recipient.model_dump(include=RECIPIENT_FIELDS),
            minimum_fields=terms(recipient.minimum_fields, vocabulary.data_categories),
            due_diligence=None
            if checks is None
            else DueDiligencePublic(
                **checks.model_dump(), review_overdue=review_overdue(checks, today)
            ),
        )


@router.get("/recipients", response_model=ItemList[RecipientPublic], summary="Every recipient")
def list_recipients(policy: PolicyDep, vocabulary: VocabularyDep) -> ItemList[RecipientPublic]:
    today = dt.date.today()
    return ItemList(items=[RecipientPublic.of(r, vocabulary, today) for r in policy.recipients])


@router.get("/recipients/{key}", response_model=RecipientPublic, summary="One recipient")
def get_recipient(key: str, policy: PolicyDep, vocabulary: VocabularyDep) -> RecipientPublic:
    for recipient in policy.recipients:
        if recipient.key == key:
            return RecipientPublic.of(recipient, vocabulary, dt.date.today())
    raise NotFound("recipient", key)
