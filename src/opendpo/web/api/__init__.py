"""The HTTP API, version 1: its routers, under /api/v1."""

from __future__ import annotations

import functools

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


# One per process, like the module routers it gathers: FastAPI works out every included
# route's parameters when the router is included into an app, and again on the app's first
# request. Built afresh for each app (each test builds one), that was 0.13 s an app.
@functools.cache
def api_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
    # Routes are matched in order, one pattern at a time: the decision point, called for
    # every email a company sends, comes first (matching it behind the other routes took a
    # seventh of a decision's time). No other route's path can be one of its paths.
    modules = (
        decisions,
        policy,
        purposes,
        recipients,
        systems,
        people,
        audit,
        consent,
        campaigns,
        requests,
    )
    for module in modules:
        router.include_router(module.router)
    return router
