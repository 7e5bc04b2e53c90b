"""CSAT surveys: the one-question survey sent after an interaction, and its 1-5 answer.

Revision ID: 0018_csat_surveys
Revises: 0017_preferred_channel
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).

`csat_surveys`: one row per survey sent (cases.csat): the case and the interaction it asks
about (plain integers, no foreign keys: a GDPR erasure of the case leaves only an anonymous
score behind, never a dangling constraint that stops the erasure), the interaction's channel,
the channel the survey went by, when, and the answer (1-5) with when it came; no address or
text is kept here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_csat_surveys"
down_revision: str | None = "0017_preferred_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "csat_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)",
                           name=op.f("ck_csat_surveys_score")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_surveys")),
        sa.UniqueConstraint("interaction_id", name=op.f("uq_csat_surveys_interaction_id")),
    )
    op.create_index(op.f("ix_csat_surveys_case_id"), "csat_surveys", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_csat_surveys_case_id"), table_name="csat_surveys")
    op.drop_table("csat_surveys")
