"""The post-call accuracy pass and per-segment sentiment/topics.

Revision ID: 0016_post_call_pass
Revises: 0015_transcript_search_qa
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).

- `transcript_segments.source`: 'live' (written while the call ran; every existing row) or
  'post' (the post-call pass over the recording, recordings.postcall); the case shows the
  post segments of an interaction when it has any.
- `transcript_segments.sentiment` (-1..1) and `.topics` (a JSON list of topic names), and
  `interactions.insights` (JSON: the interaction's sentiment trend and topics), from
  cases.insights; null where nothing was computed.
- `postcall_jobs`: one row per recording to transcribe again, persisted so a restart resumes
  it (a job whose lease ran out is claimed again).

Plain ADD COLUMNs (no batch table rebuild on SQLite: 0015's triggers on transcript_segments
stay in place).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_post_call_pass"
down_revision: str | None = "0015_transcript_search_qa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("queued", "running", "done", "failed")


def upgrade() -> None:
    op.add_column("transcript_segments", sa.Column(
        "source", sa.String(length=8), nullable=False, server_default="live"))
    op.add_column("transcript_segments", sa.Column("sentiment", sa.Float(), nullable=True))
    op.add_column("transcript_segments", sa.Column("topics", sa.JSON(), nullable=True))
    op.add_column("interactions", sa.Column("insights", sa.JSON(), nullable=True))
    op.create_table(
        "postcall_jobs",
        sa.Column("recording_id", sa.String(length=64), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("queued_wall", sa.Float(), nullable=False),
        sa.Column("started_wall", sa.Float(), nullable=True),
        sa.Column("finished_wall", sa.Float(), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("audio_s", sa.Float(), nullable=True),
        sa.Column("cpu_s", sa.Float(), nullable=True),
        sa.Column("wall_s", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "status IN (" + ", ".join(repr(s) for s in _STATUSES) + ")",
            name=op.f("ck_postcall_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_postcall_jobs")),
    )
    op.create_index("ix_postcall_jobs_status", "postcall_jobs", ["status", "queued_wall"])


def downgrade() -> None:
    op.drop_index("ix_postcall_jobs_status", table_name="postcall_jobs")
    op.drop_table("postcall_jobs")
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 has it) rather than a batch rebuild, which
    # would drop 0015's triggers on transcript_segments.
    op.execute("ALTER TABLE interactions DROP COLUMN insights")
    for column in ("topics", "sentiment", "source"):
        op.execute(f"ALTER TABLE transcript_segments DROP COLUMN {column}")
