"""Opt-outs: the STOP / START keyword an address last sent on SMS or WhatsApp (`cases.opt_outs`).

Revision ID: 0008_opt_outs
Revises: 0007_case_shares
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_opt_outs"
down_revision: str | None = "0007_case_shares"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("keyword", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('stopped', 'started')", name=op.f("ck_opt_outs_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_opt_outs_channel_address")),
    )


def downgrade() -> None:
    op.drop_table("opt_outs")
