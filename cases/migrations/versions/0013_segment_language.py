"""Transcript segments carry their language (en, es: common.languages), or null when the
engine did not know it (vosk, pocketsphinx, segments stored before languages existed).

Revision ID: 0013_segment_language
Revises: 0012_case_facts
Create Date: 2026-12-06

Self-contained (see 0001): a nullable column, so existing rows need no backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_segment_language"
down_revision: str | None = "0012_case_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_segments") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_segments") as batch:
        batch.drop_column("language")
