"""The staff console: overview, purposes, systems, recipients and policy versions.

Staff accounts arrive with the security foundation; until then the console has no sign-in,
says so on every page, and the server binds to 127.0.0.1 by default.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from opendpo.policy.versions import list_versions
from opendpo.security.roles import Permission
from opendpo.web.api.recipients import review_overdue
from opendpo.web.api.shapes import as_utc
from opendpo.web.api.systems import system_detail
from opendpo.web.auth import permit
from opendpo.web.dependencies import (
    PolicyDep,
    PolicyVersionDep,
    SessionDep,
    StateDep,
    VocabularyDep,
)

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[permit(Permission.POLICY_READ)]
)


def render(request: Request, state: StateDep, template: str, **context: Any) -> Response:
    return state.templates.TemplateResponse(request, f"console/{template}", context)


@router.get("/", name="console_overview")
def overview(
    request: Request, state: StateDep, policy: PolicyDep, version: PolicyVersionDep
) -> Response:
    today = dt.date.today()
    counts = {
        "Purposes": len(policy.purposes),
        "Data subjects": len(policy.data_subjects),
        "Systems": len(policy.systems),
        "Datasets": len(policy.dataset),
        "Recipients": len(policy.recipients),
        "Retention rules": len(policy.retention),
    }
    overdue = [r for r in policy.recipients if review_overdue(r.due_diligence, today)]
    return render(
        request,
        state,
        "overview.html",
        page="overview",
        policy=policy,
        version=version,
        applied_at=as_utc(version.applied_at),
        counts=counts,
        overdue=overdue,
    )


@router.get("/purposes", name="console_purposes")
def purposes(
    request: Request, state: StateDep, policy: PolicyDep, vocabulary: VocabularyDep
) -> Response:
    retention = {rule.key: rule for rule in policy.retention}
    return render(
        request,
        state,
        "purposes.html",
        page="purposes",
        policy=policy,
        vocabulary=vocabulary,
        retention=retention,
    )


@router.get("/systems", name="console_systems")
def systems(
    request: Request, state: StateDep, policy: PolicyDep, vocabulary: VocabularyDep
) -> Response:
    details = [system_detail(system, policy, vocabulary) for system in policy.systems]
    return render(request, state, "systems.html", page="systems", systems=details)


@router.get("/recipients", name="console_recipients")
def recipients(
    request: Request, state: StateDep, policy: PolicyDep, vocabulary: VocabularyDep
) -> Response:
    today = dt.date.today()
    overdue = {r.key for r in policy.recipients if review_overdue(r.due_diligence, today)}
    return render(
        request,
        state,
        "recipients.html",
        page="recipients",
        recipients=policy.recipients,
        vocabulary=vocabulary,
        overdue=overdue,
        today=today,
    )


@router.get("/policy-versions", name="console_policy_versions")
def policy_versions(request: Request, state: StateDep, session: SessionDep) -> Response:
    versions = [(v, as_utc(v.applied_at)) for v in reversed(list_versions(session=session))]
    return render(request, state, "versions.html", page="versions", versions=versions)
