"""The public privacy centre: the notice, rendered from the policy in force."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from opendpo.security.roles import Permission
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, PolicyVersionDep, StateDep, VocabularyDep
from opendpo.web.pages.notice_view import notice_view
from opendpo.web.public import public_limit

# The rate limit comes first: a request over budget costs no store query.
router = APIRouter(
    include_in_schema=False, dependencies=[public_limit(), permit(Permission.PUBLIC)]
)


@router.get("/", name="privacy_notice")
def privacy_notice(
    request: Request,
    state: StateDep,
    policy: PolicyDep,
    version: PolicyVersionDep,
    vocabulary: VocabularyDep,
) -> Response:
    return state.templates.TemplateResponse(
        request,
        "privacy/notice.html",
        {"view": notice_view(policy), "vocabulary": vocabulary, "policy_version": version.number},
    )
