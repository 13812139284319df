"""A bare request row for the file and package tests: stored files belong to a request."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from sqlalchemy import Engine

from opendpo.rights.intake import REFERENCE_ALPHABET
from opendpo.rights.records import Request
from opendpo.store.engine import make_session_factory

RECEIVED = dt.datetime(2026, 9, 3, 9, 30, tzinfo=dt.UTC)


def make_request(engine: Engine, *, kind: str = "access") -> tuple[str, str]:
    """(id, reference) of a new verified request."""
    reference = "R-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    request = Request(
        id=str(uuid.uuid4()),
        reference=reference,
        kind=kind,
        status="verified",
        channel="privacy_centre",
        received_at=RECEIVED,
        details={},
        updated_at=RECEIVED,
    )
    with make_session_factory(engine)() as session, session.begin():
        session.add(request)
    return request.id, reference
