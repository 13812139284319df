"""Covering indexes for the decision point: an address's person, a person's addresses and a
consent's state read from the indexes alone, without visiting the tables.

On PostgreSQL the identities' unique key carries the person, the person index carries the
kind and blind index, and consent_states' primary key carries the state, expiry and renewal
flag (INCLUDE). SQLite has no INCLUDE: it gets the person index on (person_id, kind) only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_identities_person_id", table_name="identities")
    op.create_index(
        "ix_identities_person_id",
        "identities",
        ["person_id", "kind"],
        postgresql_include=["blind_index"],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE identities DROP CONSTRAINT uq_identities_kind,"
            " ADD CONSTRAINT uq_identities_kind UNIQUE (kind, blind_index) INCLUDE (person_id)"
        )
        op.execute(
            "ALTER TABLE consent_states DROP CONSTRAINT pk_consent_states,"
            " ADD CONSTRAINT pk_consent_states PRIMARY KEY (person_id, purpose, channel)"
            " INCLUDE (state, expires_at, needs_renewal)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE consent_states DROP CONSTRAINT pk_consent_states,"
            " ADD CONSTRAINT pk_consent_states PRIMARY KEY (person_id, purpose, channel)"
        )
        op.execute(
            "ALTER TABLE identities DROP CONSTRAINT uq_identities_kind,"
            " ADD CONSTRAINT uq_identities_kind UNIQUE (kind, blind_index)"
        )
    op.drop_index("ix_identities_person_id", table_name="identities")
    op.create_index("ix_identities_person_id", "identities", ["person_id"])
