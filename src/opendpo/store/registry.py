"""Every domain's models, imported so that Alembic and `create_all` see the whole schema."""

from __future__ import annotations

from sqlalchemy import MetaData

from opendpo.store.base import Base


def schema() -> MetaData:
    # Imported here, not at module top, so that importing the store never drags in every domain.
    from opendpo.consent import ledger, suppression  # noqa: F401
    from opendpo.execution import records as execution_records  # noqa: F401
    from opendpo.policy import versions  # noqa: F401
    from opendpo.rights import records  # noqa: F401
    from opendpo.security import api_keys, audit, chain, sessions, staff  # noqa: F401
    from opendpo.subjects import flags, people  # noqa: F401

    return Base.metadata
