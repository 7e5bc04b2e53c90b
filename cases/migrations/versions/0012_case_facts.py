"""Case facts: key/values the customer gave on a case, with their source (cases.facts).

Revision ID: 0012_case_facts
Revises: 0011_recording_lifecycle
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001). `value` is masked for
anything sensitive (`masked`); `auto` facts are remade with their interaction's summary.
The interaction's summary itself goes in the existing `interactions.summary` text column
(JSON made by cases.summary), so no column is added there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_case_facts"
down_revision: str | None = "0011_recording_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORIGINS = ("ivr", "speech", "message", "agent", "flow")


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("second", sa.Float(), nullable=True),
        sa.Column("ivr_step", sa.String(length=100), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "origin IN (" + ", ".join(repr(o) for o in _ORIGINS) + ")",
            name=op.f("ck_case_facts_origin"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_facts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interactions.id"],
            name=op.f("fk_case_facts_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_facts")),
    )
    op.create_index("ix_case_facts_case_key", "case_facts", ["case_id", "key"])
    op.create_index(
        op.f("ix_case_facts_interaction_id"), "case_facts", ["interaction_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_facts_interaction_id"), table_name="case_facts")
    op.drop_index("ix_case_facts_case_key", table_name="case_facts")
    op.drop_table("case_facts")
