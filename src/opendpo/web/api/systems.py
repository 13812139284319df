"""Systems that hold personal data, with their datasets' collections and fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from opendpo.errors import NotFound
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.systems import System, SystemKind
from opendpo.policy.taxonomy import Vocabulary
from opendpo.security.roles import Permission
from opendpo.web.api.shapes import ItemList, Term, terms
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, VocabularyDep

router = APIRouter(tags=["systems"], dependencies=[permit(Permission.POLICY_READ)])


class Reference(BaseModel):
    dataset: str
    field: str
    direction: str | None


class FieldPublic(BaseModel):
    name: str
    description: str | None
    data_categories: list[Term]
    identity: str | None
    primary_key: bool
    references: list[Reference]
    fields: list[FieldPublic]


class CollectionPublic(BaseModel):
    name: str
    description: str | None
    fields: list[FieldPublic]


class DatasetPublic(BaseModel):
    key: str
    name: str | None
    description: str | None
    collections: list[CollectionPublic]


class SystemSummary(BaseModel):
    key: str
    name: str
    description: str | None
    kind: SystemKind
    owner: str | None
    hosted_by: str | None
    country: str
    datasets: list[str]


class SystemDetail(SystemSummary):
    dataset_details: list[DatasetPublic]


# fideslang's models are untyped for mypy; these read them field by field.
def _field(field: Any, vocabulary: Vocabulary) -> FieldPublic:
    meta = field.fides_meta
    return FieldPublic(
        name=field.name,
        description=field.description,
        data_categories=terms(field.data_categories or [], vocabulary.data_categories),
        identity=meta.identity if meta else None,
        primary_key=bool(meta and meta.primary_key),
        references=[
            Reference(dataset=ref.dataset, field=ref.field, direction=ref.direction)
            for ref in ((meta.references or []) if meta else [])
        ],
        fields=[_field(child, vocabulary) for child in field.fields or []],
    )


def _dataset(dataset: Any, vocabulary: Vocabulary) -> DatasetPublic:
    return DatasetPublic(
        key=dataset.fides_key,
        name=dataset.name,
        description=dataset.description,
        collections=[
            CollectionPublic(
                name=collection.name,
                description=collection.description,
                fields=[_field(field, vocabulary) for field in collection.fields],
            )
            for collection in dataset.collections
        ],
    )


def _summary(system: System) -> dict[str, Any]:
    return system.model_dump()


def system_detail(system: System, policy: PolicyDocument, vocabulary: Vocabulary) -> SystemDetail:
    datasets = {dataset.fides_key: dataset for dataset in policy.dataset}
    return SystemDetail(
        **_summary(system),
        dataset_details=[
            _dataset(datasets[key], vocabulary) for key in system.datasets if key in datasets
        ],
    )


@router.get("/systems", response_model=ItemList[SystemSummary], summary="Every system")
def list_systems(policy: PolicyDep) -> ItemList[SystemSummary]:
    return ItemList(items=[SystemSummary(**_summary(s)) for s in policy.systems])


@router.get(
    "/systems/{key}",
    response_model=SystemDetail,
    summary="One system, with its datasets' collections and fields",
)
def get_system(key: str, policy: PolicyDep, vocabulary: VocabularyDep) -> SystemDetail:
    for system in policy.systems:
        if system.key == key:
            return system_detail(system, policy, vocabulary)
    raise NotFound("system", key)
