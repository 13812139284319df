"""The HTTP API, version 1: read-only views of the current policy for now."""

from __future__ import annotations

from fastapi import APIRouter

from opendpo.web.api import (
    audit,
    campaigns,
    consent,
    decisions,
    people,
    policy,
    purposes,
    recipients,
    requests,
    systems,
)
from opendpo.web.errors import ERROR_RESPONSES

PREFIX = "/api/v1"


def api_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
    modules = (
        policy,
        purposes,
        recipients,
        systems,
        people,
        audit,
        consent,
        decisions,
        campaigns,
        requests,
    )
    for module in modules:
        router.include_router(module.router)
    return router
