"""A random public id on every case: URLs and JSON name cases by it, never by the sequential key.

Revision ID: 0005_case_public_id
Revises: 0004
Create Date: 2026-12-06

Existing cases get one each here. Written out in full rather than importing the models (see
0001); `_new_public_id` is `cases.models.new_public_id` as it was at this revision.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_case_public_id"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _new_public_id() -> str:
    return secrets.token_urlsafe(12)  # 16 URL-safe characters


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    # SQLite can add a NOT NULL column only with a default, and cannot drop that default
    # afterwards without rebuilding the table (which would lose the partial unique index on
    # open cases): there the column keeps DEFAULT '' and every row is filled in below. A row
    # written without an id would get '' and the second such row breaks the unique index: a
    # loud failure, never a guessable id.
    op.add_column(
        "cases",
        sa.Column("public_id", sa.String(length=32), nullable=not sqlite,
                  server_default="" if sqlite else None),
    )
    cases = sa.table("cases", sa.column("id", sa.Integer()), sa.column("public_id", sa.String()))
    ids = [row[0] for row in bind.execute(sa.select(cases.c.id))]
    for case_id in ids:
        bind.execute(
            cases.update().where(cases.c.id == case_id).values(public_id=_new_public_id())
        )
    if not sqlite:
        op.alter_column("cases", "public_id", existing_type=sa.String(length=32), nullable=False)
    op.create_index(op.f("ix_cases_public_id"), "cases", ["public_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_public_id"), table_name="cases")
    op.drop_column("cases", "public_id")
