"""Cases shared with a user explicitly (who may read a case: `web.case_access`).

Revision ID: 0007_case_shares
Revises: 0006_messages
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_case_shares"
down_revision: str | None = "0006_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("shared_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_case_shares_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_shares")),
        sa.UniqueConstraint("case_id", "user", name=op.f("uq_case_shares_case_id_user")),
    )
    op.create_index(op.f("ix_case_shares_case_id"), "case_shares", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_shares_case_id"), table_name="case_shares")
    op.drop_table("case_shares")
