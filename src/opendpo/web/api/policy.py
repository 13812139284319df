"""The applied policy: the current version and its history."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from opendpo.errors import NotFound
from opendpo.policy.versions import PolicyVersion, list_versions
from opendpo.security.roles import Permission
from opendpo.web.api.shapes import ItemList, as_utc
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, PolicyVersionDep, SessionDep

router = APIRouter(tags=["policy"], dependencies=[permit(Permission.POLICY_READ)])


class PolicyVersionPublic(BaseModel):
    number: int
    notice_version: str
    applied_at: dt.datetime
    digest: str

    @classmethod
    def of(cls, version: PolicyVersion) -> PolicyVersionPublic:
        return cls(
            number=version.number,
            notice_version=version.notice_version,
            applied_at=as_utc(version.applied_at),
            digest=version.digest,
        )


class CurrentPolicy(PolicyVersionPublic):
    controller: str
    notice_title: str
    effective_date: dt.date


@router.get("/policy", response_model=CurrentPolicy, summary="The policy in force")
def current_policy(version: PolicyVersionDep, policy: PolicyDep) -> CurrentPolicy:
    return CurrentPolicy(
        **PolicyVersionPublic.of(version).model_dump(),
        controller=policy.controller.legal_name,
        notice_title=policy.notice.title,
        effective_date=policy.notice.effective_date,
    )


@router.get(
    "/policy/versions",
    response_model=ItemList[PolicyVersionPublic],
    summary="Every applied version, oldest first",
)
def policy_versions(session: SessionDep) -> ItemList[PolicyVersionPublic]:
    return ItemList(items=[PolicyVersionPublic.of(v) for v in list_versions(session=session)])


@router.get(
    "/policy/versions/{number}",
    response_model=PolicyVersionPublic,
    summary="One applied version",
)
def policy_version(number: int, session: SessionDep) -> PolicyVersionPublic:
    version = session.scalars(select(PolicyVersion).where(PolicyVersion.number == number)).first()
    if version is None:
        raise NotFound("policy version", str(number))
    return PolicyVersionPublic.of(version)
