"""Purposes: why personal data is used and on which lawful basis."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from opendpo.errors import NotFound
from opendpo.policy.model.purposes import ConsentTerms, LawfulBasis, LegitimateInterest, Purpose
from opendpo.policy.taxonomy import Vocabulary
from opendpo.security.roles import Permission
from opendpo.web.api.shapes import ItemList, Term, terms
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, VocabularyDep

# Copied unchanged from the policy; the rest is reshaped for readers.
PURPOSE_FIELDS: set[str] = {
    "key",
    "name",
    "description",
    "lawful_basis",
    "legitimate_interest",
    "consent",
    "data_subjects",
    "systems",
    "recipients",
    "retention",
    "direct_marketing",
    "analytics",
    "research",
    "further_processing_needs_permission",
}

router = APIRouter(tags=["purposes"], dependencies=[permit(Permission.POLICY_READ)])


class PurposePublic(BaseModel):
    key: str
    name: str
    description: str
    lawful_basis: LawfulBasis
    article: str
    legitimate_interest: LegitimateInterest | None
    consent: ConsentTerms | None
    data_uses: list[Term]
    data_categories: list[Term]
    data_subjects: list[str]
    systems: list[str]
    recipients: list[str]
    retention: str | None
    direct_marketing: bool
    analytics: bool
    research: bool
    further_processing_needs_permission: bool

    @classmethod
    def of(cls, purpose: Purpose, vocabulary: Vocabulary) -> PurposePublic:
        return cls(
            **purpose.model_dump(include=PURPOSE_FIELDS),
            article=purpose.article,
            data_uses=terms(purpose.data_uses, vocabulary.data_uses),
            data_categories=terms(purpose.data_categories, vocabulary.data_categories),
        )


@router.get("/purposes", response_model=ItemList[PurposePublic], summary="Every purpose")
def list_purposes(policy: PolicyDep, vocabulary: VocabularyDep) -> ItemList[PurposePublic]:
    return ItemList(items=[PurposePublic.of(p, vocabulary) for p in policy.purposes])


@router.get("/purposes/{key}", response_model=PurposePublic, summary="One purpose")
def get_purpose(key: str, policy: PolicyDep, vocabulary: VocabularyDep) -> PurposePublic:
    for purpose in policy.purposes:
        if purpose.key == key:
            return PurposePublic.of(purpose, vocabulary)
    raise NotFound("purpose", key)
