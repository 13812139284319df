"""Consent ledger, current preferences, suppression list, objections and restrictions,
and the PECR subscriber kind of each person.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("blind_index", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint(
            "blind_index", "channel", "purpose", name=op.f("uq_suppressions_blind_index")
        ),
    )
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suppressions_blind_index"), ["blind_index"], unique=False
        )

    op.create_table(
        "consent_records",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("client_address", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.Column("api_key_id", sa.String(length=12), nullable=True),
        sa.Column("notice_version", sa.String(length=40), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("wording", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_consent_records_person_id_people")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_consent_records")),
        sa.UniqueConstraint("id", name=op.f("uq_consent_records_id")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_consent_records_person_id"), ["person_id"], unique=False
        )

    op.bulk_insert(
        sa.table("hash_chain_heads", sa.column("name"), sa.column("seq"), sa.column("hash")),
        [{"name": "consent", "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "consent_states",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("record_seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("needs_renewal", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_consent_states_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", "purpose", "channel", name=op.f("pk_consent_states")),
    )
    op.create_table(
        "processing_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_processing_flags_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_flags")),
    )
    with op.batch_alter_table("processing_flags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processing_flags_person_id"), ["person_id"], unique=False
        )

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subscriber", sa.String(length=20), nullable=False, server_default="unknown")
        )


def downgrade() -> None:
    op.execute("DELETE FROM hash_chain_heads WHERE name = 'consent'")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("subscriber")

    with op.batch_alter_table("processing_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processing_flags_person_id"))

    op.drop_table("processing_flags")
    op.drop_table("consent_states")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_person_id"))
        batch_op.drop_index(batch_op.f("ix_consent_records_at"))

    op.drop_table("consent_records")
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppressions_blind_index"))

    op.drop_table("suppressions")
