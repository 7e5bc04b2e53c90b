"""A user's own settings: the language their pages speak.

Revision ID: 0020_user_language
Revises: 0019_redact_stored_transcripts
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).

`user_settings`: one row per user who chose something (web.auth.settings): the language of
their pages (`en`, `es`). Apart from `users` on purpose: a user's `updated_at` is what ends
their sessions when their password or role changes, and choosing a language must not.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_user_language"
down_revision: str | None = "0019_redact_stored_transcripts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_user_settings")),
    )


def downgrade() -> None:
    op.drop_table("user_settings")
