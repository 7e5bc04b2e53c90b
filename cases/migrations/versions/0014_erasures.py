"""Erasures: the audit of GDPR erasures (cases.gdpr_erase), one row per erased customer.

Revision ID: 0014_erasures
Revises: 0013_segment_language
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001). The row holds no personal
data: the customer's (now unused) integer id, who asked, when, the state (`erasing` while the
stores are being emptied, `erased` once the case rows went in the same transaction) and how
many rows or files each store removed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_erasures"
down_revision: str | None = "0013_segment_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "state IN ('erasing', 'erased')", name=op.f("ck_erasures_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_erasures_customer_id")),
    )


def downgrade() -> None:
    op.drop_table("erasures")
