"""`/healthz`: is the store reachable and its schema up to date? For probes and load balancers."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from opendpo.security.roles import Permission
from opendpo.store.migrate import current_revision, head_revision
from opendpo.web.auth import permit
from opendpo.web.dependencies import StateDep
from opendpo.web.errors import ErrorResponse, ServiceError

logger = logging.getLogger("opendpo.web.health")


class StoreHealth(BaseModel):
    reachable: bool
    migrated: bool
    revision: str | None


class Health(BaseModel):
    status: Literal["ok"]
    store: StoreHealth


router = APIRouter(dependencies=[permit(Permission.PUBLIC)])


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": ErrorResponse, "description": "The store is not usable."}},
    tags=["health"],
)
def healthz(state: StateDep) -> Health:
    try:
        revision = current_revision(state.engine)
    except SQLAlchemyError as exc:
        # The reason is for operators; the probe's caller only needs to know it failed.
        logger.warning("store unreachable: %s", type(exc).__name__)
        raise ServiceError(503, "store_unreachable", "The store cannot be reached.") from exc
    head = head_revision(state.engine)
    if revision != head:
        raise ServiceError(
            503,
            "store_not_migrated",
            f"The store's schema is at {revision or 'no revision'}, not {head}: "
            "run `opendpo db upgrade`.",
        )
    return Health(status="ok", store=StoreHealth(reachable=True, migrated=True, revision=revision))
