"""Recordings: one index row per call recording (recordings.tables).

Revision ID: 0010_recordings
Revises: 0009_message_subject
Create Date: 2026-12-06

Written out in full rather than importing `recordings.tables` (see 0001). A row is written
when the recording starts (status 'recording') and completed at close; a row still
'recording' at start-up was left by a killed process and is repaired to 'interrupted'.
No foreign key to interactions: a recording outlives nothing it points at, and the row is
written before the interaction may exist.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_recordings"
down_revision: str | None = "0009_message_subject"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=1024), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("started_wall", sa.Float(), nullable=False),
        sa.Column("ended_wall", sa.Float(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("paused_spans", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "status IN ('recording', 'complete', 'interrupted', 'failed')",
            name=op.f("ck_recordings_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
    )
    op.create_index("ix_recordings_interaction_id", "recordings", ["interaction_id"])
    op.create_index("ix_recordings_status", "recordings", ["status"])


def downgrade() -> None:
    op.drop_index("ix_recordings_status", table_name="recordings")
    op.drop_index("ix_recordings_interaction_id", table_name="recordings")
    op.drop_table("recordings")
