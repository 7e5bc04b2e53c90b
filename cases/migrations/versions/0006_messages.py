"""Messages on the case: WhatsApp as a channel, messages with attachments and delivery history,
verified identities, and the audit of customer merges.

Revision ID: 0006_messages
Revises: 0005_case_public_id
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_messages"
down_revision: str | None = "0005_case_public_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_CHANNELS = "channel IN ('voice', 'chat', 'sms', 'email')"
_NEW_CHANNELS = "channel IN ('voice', 'chat', 'sms', 'whatsapp', 'email')"
_TEXT_CHANNELS = "channel IN ('chat', 'sms', 'whatsapp', 'email')"
_STATUSES = (
    "status IN ('received', 'queued', 'sent', 'delivered', 'read', 'undelivered', 'failed')"
)


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _channel_check(old: str, new: str) -> None:
    """Replace the CHECK on interactions.channel (`old` -> `new`; every stored row satisfies
    both).

    PostgreSQL alters it in place. SQLite cannot alter a CHECK, and the table rebuild that
    batch mode does (copy, drop, rename) breaks the foreign keys of the transcript segments
    and IVR events pointing at it, which cannot be switched off inside the migration's
    transaction. SQLite documents the way for a change that leaves the stored rows valid
    ("ALTER TABLE", making other kinds of table schema changes): rewrite the table's SQL in
    sqlite_schema under `writable_schema` and bump `schema_version` so every connection
    re-reads it.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint("ck_interactions_channel", "interactions", type_="check")
        op.create_check_constraint("ck_interactions_channel", "interactions", new)
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'interactions'"
    ).scalar_one()
    if sql.count(old) != 1:
        raise RuntimeError("interactions: the channel CHECK is not the one this migration knows")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'interactions'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _channel_check(_OLD_CHANNELS, _NEW_CHANNELS)
    op.add_column(
        "identities",
        sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        _utc("created_at"),
        _utc("sent_at", nullable=True),
        _utc("delivered_at", nullable=True),
        sa.CheckConstraint(_TEXT_CHANNELS, name=op.f("ck_messages_channel")),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name=op.f("ck_messages_direction")
        ),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_messages_status")),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interactions.id"],
            name=op.f("fk_messages_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_messages_channel_external_id")
        ),
    )
    op.create_index(
        "ix_messages_interaction_created", "messages", ["interaction_id", "created_at"]
    )
    op.create_table(
        "message_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_message_attachments_size")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"],
            name=op.f("fk_message_attachments_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_attachments")),
    )
    op.create_index(
        op.f("ix_message_attachments_message_id"), "message_attachments", ["message_id"]
    )
    op.create_table(
        "message_status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _utc("at"),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_message_status_events_status")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"],
            name=op.f("fk_message_status_events_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_status_events")),
    )
    op.create_index(
        op.f("ix_message_status_events_message_id"), "message_status_events", ["message_id"]
    )
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_customer_id", sa.Integer(), nullable=False),
        sa.Column("target_customer_id", sa.Integer(), nullable=False),
        sa.Column("source_case_id", sa.Integer(), nullable=True),
        sa.Column("target_case_id", sa.Integer(), nullable=True),
        sa.Column("moved_interactions", sa.JSON(), nullable=False),
        sa.Column("moved_cases", sa.JSON(), nullable=False),
        sa.Column("moved_identities", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _utc("at"),
        sa.ForeignKeyConstraint(
            ["source_customer_id"], ["customers.id"],
            name=op.f("fk_customer_merges_source_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["target_customer_id"], ["customers.id"],
            name=op.f("fk_customer_merges_target_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["source_case_id"], ["cases.id"], name=op.f("fk_customer_merges_source_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["target_case_id"], ["cases.id"], name=op.f("fk_customer_merges_target_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    for column in ("source_customer_id", "target_customer_id", "source_case_id"):
        op.create_index(op.f(f"ix_customer_merges_{column}"), "customer_merges", [column])


def downgrade() -> None:
    # Messages, their history and the merge audit go with their tables. WhatsApp
    # interactions cannot exist under the old CHECK; they only ever held messages, so they go
    # too (any segments or IVR events under them first, for the foreign keys).
    op.drop_table("customer_merges")
    op.drop_table("message_status_events")
    op.drop_table("message_attachments")
    op.drop_table("messages")
    whatsapp = "SELECT id FROM interactions WHERE channel = 'whatsapp'"
    op.execute(f"DELETE FROM transcript_segments WHERE interaction_id IN ({whatsapp})")
    op.execute(f"DELETE FROM ivr_events WHERE interaction_id IN ({whatsapp})")
    op.execute("DELETE FROM interactions WHERE channel = 'whatsapp'")
    _channel_check(_NEW_CHANNELS, _OLD_CHANNELS)
    op.drop_column("identities", "verified")
