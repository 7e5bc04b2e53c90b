"""Transcript segments stored before redaction existed are redacted now (cases.redact).

Revision ID: 0019_redact_stored_transcripts
Revises: 0018_csat_surveys
Create Date: 2026-12-06

Data only, no schema change. Since 0015's era every segment is masked before it is stored
(`CaseStore.add_segment`); this masks the ones stored earlier the same way: card numbers
(last four kept) and digit runs of six or more that no reference word introduced. Unlike
the schema revisions this one imports a module, `cases.redact` (a pure function): the rule
it applies is the one of the release that runs it. Segments are read and rewritten in
batches by id, only those whose text changes; the SQLite search index follows through its
update trigger, PostgreSQL's GIN index by itself. Downgrade does nothing: what was masked
stays masked.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cases.redact import redact

revision: str = "0019_redact_stored_transcripts"
down_revision: str | None = "0018_csat_surveys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
_segments = sa.table("transcript_segments", sa.column("id", sa.Integer),
                     sa.column("text", sa.Text), sa.column("language", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.select(_segments.c.id, _segments.c.text, _segments.c.language)
                            .where(_segments.c.id > last).order_by(_segments.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return
        changed = [{"sid": sid, "masked": masked} for sid, said, lang in rows
                   if (masked := redact(said, lang)) != said]
        if changed:
            bind.execute(_segments.update().where(_segments.c.id == sa.bindparam("sid"))
                         .values(text=sa.bindparam("masked")), changed)
        last = rows[-1][0]


def downgrade() -> None:
    return None
