"""Review: full-text search over transcript segments, and QA reviews of interactions.

Revision ID: 0015_transcript_search_qa
Revises: 0014_erasures
Create Date: 2026-12-06

Written out in full rather than importing the models (see 0001); `cases.transcript_search`
reads what this makes.

- SQLite: `transcript_fts`, an FTS5 table (rowid = the segment's id, unicode61 tokens with
  accents folded: "número" finds "numero") kept in step with `transcript_segments` by three
  triggers (insert, update of the text, delete), so every writer of segments — and an erasure
  that deletes them — keeps the index right without knowing it exists. Filled here from the
  segments already stored. (A future batch migration that *recreates* transcript_segments on
  SQLite drops these triggers and must make them again.)
- PostgreSQL: a GIN index on `to_tsvector('simple', text)`; queries use the same expression,
  so the index is the whole of it and existing rows are indexed as it is built. 'simple'
  (no stemming): transcripts are English and Spanish side by side.
- `qa_reviews`: a reviewer's score (0-100, optional) and notes on one interaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_transcript_search_qa"
down_revision: str | None = "0014_erasures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    "CREATE VIRTUAL TABLE transcript_fts USING fts5("
    "text, tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO transcript_fts (rowid, text) SELECT id, text FROM transcript_segments",
    "CREATE TRIGGER transcript_fts_insert AFTER INSERT ON transcript_segments BEGIN "
    "INSERT INTO transcript_fts (rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER transcript_fts_update AFTER UPDATE OF text ON transcript_segments BEGIN "
    "UPDATE transcript_fts SET text = new.text WHERE rowid = old.id; END",
    "CREATE TRIGGER transcript_fts_delete AFTER DELETE ON transcript_segments BEGIN "
    "DELETE FROM transcript_fts WHERE rowid = old.id; END",
]
_POSTGRESQL = [
    "CREATE INDEX ix_transcript_segments_fts ON transcript_segments "
    "USING gin (to_tsvector('simple', text))",
]


def upgrade() -> None:
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL:
        op.execute(statement)
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "score IS NULL OR (score >= 0 AND score <= 100)", name=op.f("ck_qa_reviews_score")),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interactions.id"],
            name=op.f("fk_qa_reviews_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_reviews")),
    )
    op.create_index(op.f("ix_qa_reviews_interaction_id"), "qa_reviews", ["interaction_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_qa_reviews_interaction_id"), table_name="qa_reviews")
    op.drop_table("qa_reviews")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS transcript_fts_{name}")
        op.execute("DROP TABLE IF EXISTS transcript_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_transcript_segments_fts")
