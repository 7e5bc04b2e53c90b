"""A subject on messages: an email's Subject line, None on the other channels.

Revision ID: 0009_message_subject
Revises: 0008_opt_outs
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_message_subject"
down_revision: str | None = "0008_opt_outs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: the emails stored before have no subject on record.
    op.add_column("messages", sa.Column("subject", sa.String(length=998), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "subject")
