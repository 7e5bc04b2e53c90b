"""A customer's preferred channel (issue 12: callback confirmations and handovers go there).

Revision ID: 0017_preferred_channel
Revises: 0016_post_call_pass
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001).

- `customers.preferred_channel`: the channel the customer chose (sms, whatsapp, email, chat
  or voice; checked by cases.preferences, not by a constraint: no table rebuild on SQLite,
  where the foreign keys to `customers` forbid dropping it),
  null when they never chose one (then it is inferred from their recent inbound contacts).
- `customers.preferred_channel_at`: when they chose it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_preferred_channel"
down_revision: str | None = "0016_post_call_pass"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("preferred_channel", sa.String(length=16),
                                         nullable=True))
    op.add_column("customers", sa.Column("preferred_channel_at", sa.DateTime(timezone=True),
                                         nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of `customers` would trip the foreign
    # keys that point at it.
    op.drop_column("customers", "preferred_channel_at")
    op.drop_column("customers", "preferred_channel")
