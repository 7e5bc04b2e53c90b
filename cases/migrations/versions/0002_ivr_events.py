"""IVR events: what the caller pressed and said in the IVR, on the interaction.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Written out in full rather than importing the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ivr_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("step_index", sa.Integer(), nullable=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('digits', 'speech', 'variable', 'path', 'voicemail', 'hours', 'http', 'queue', "
            "'callback', 'transfer', 'unavailable', 'hangup')",
            name=op.f("ck_ivr_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_ivr_events_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_events")),
    )
    op.create_index("ix_ivr_events_interaction_at", "ivr_events", ["interaction_id", "at"])


def downgrade() -> None:
    op.drop_table("ivr_events")
