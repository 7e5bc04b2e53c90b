"""Recordings after the call: compression, retention, legal hold, and the access audit.

Revision ID: 0011_recording_lifecycle
Revises: 0010_recordings
Create Date: 2026-12-06

Written out in full rather than importing `recordings.tables` (see 0001), so this file stays
valid whatever the package layout becomes. Adds to `recordings`:

- `codec` ('wav' while the call runs and until compressed, then 'opus') and `size_bytes`;
- `queue` and `agent`, copied from the interaction when the call ends (retention per queue,
  and the list filters of the review API);
- `held`, `held_by`, `held_wall`: a legal hold blocks retention's deletion;
- `deleted_wall`, `deleted_reason`: the row outlives its file (who asked for the recording
  later gets "deleted", not "never existed").

And a new `recording_audit` table: every access to a recording (list, read, play, hold,
delete, and every refusal) with who, what, when and the result. Never personal data: the
actor is a staff user or token name, the object a recording or interaction id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_recording_lifecycle"
down_revision: str | None = "0010_recordings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("codec", sa.String(length=16), nullable=False,
                                   server_default="wav"))
        batch.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("queue", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("agent", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("held_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("held_wall", sa.Float(), nullable=True))
        batch.add_column(sa.Column("deleted_wall", sa.Float(), nullable=True))
        batch.add_column(sa.Column("deleted_reason", sa.String(length=32), nullable=True))
    op.create_index("ix_recordings_started_wall", "recordings", ["started_wall"])
    op.create_table(
        "recording_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at_wall", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("recording_id", sa.String(length=64), nullable=True),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_audit")),
    )
    op.create_index("ix_recording_audit_recording_id", "recording_audit", ["recording_id"])
    op.create_index("ix_recording_audit_at_wall", "recording_audit", ["at_wall"])


def downgrade() -> None:
    op.drop_index("ix_recording_audit_at_wall", table_name="recording_audit")
    op.drop_index("ix_recording_audit_recording_id", table_name="recording_audit")
    op.drop_table("recording_audit")
    op.drop_index("ix_recordings_started_wall", table_name="recordings")
    with op.batch_alter_table("recordings") as batch:
        for name in ("deleted_reason", "deleted_wall", "held_wall", "held_by", "held", "agent",
                     "queue", "size_bytes", "codec"):
            batch.drop_column(name)
