"""Routing: callbacks, queue records, API-made queues and agents, the place-in-line counter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Written out in full rather than importing `routing.tables` (see 0001). Times are UNIX wall
seconds as floats (the ACD's clock), not datetimes. `routing_seq` holds one row: the first
place-in-line number no process has reserved yet; it only ever grows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_callbacks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("number", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_wall", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_wall", sa.Float(), nullable=False),
        sa.Column("last_result", sa.String(length=100), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=255), nullable=True),
        sa.Column("updated_wall", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "state IN ('waiting', 'dialing', 'done', 'failed', 'cancelled')",
            name=op.f("ck_routing_callbacks_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_callbacks")),
    )
    op.create_index("ix_routing_callbacks_state", "routing_callbacks", ["state"])
    op.create_table(
        "routing_records",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enqueued_wall", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("left_wall", sa.Float(), nullable=True),
        sa.Column("answered_wall", sa.Float(), nullable=True),
        sa.Column("ended_wall", sa.Float(), nullable=True),
        sa.Column("wrapup_s", sa.Float(), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=True),
        sa.CheckConstraint("kind IN ('call', 'callback')", name=op.f("ck_routing_records_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_records")),
    )
    op.create_index(
        "ix_routing_records_queue_enqueued", "routing_records", ["queue", "enqueued_wall"]
    )
    op.create_index("ix_routing_records_agent_id", "routing_records", ["agent_id"])
    op.create_table(
        "routing_queues",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_wall", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_routing_queues")),
    )
    op.create_table(
        "routing_agents",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_wall", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_agents")),
    )
    seq = op.create_table(
        "routing_seq",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_free", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_routing_seq_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_seq")),
    )
    op.bulk_insert(seq, [{"id": 1, "next_free": 1}])


def downgrade() -> None:
    for table in (
        "routing_seq", "routing_agents", "routing_queues", "routing_records", "routing_callbacks"
    ):
        op.drop_table(table)
