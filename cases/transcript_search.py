"""Full-text search over every stored transcript segment, and its erasure.

One interface over two engines (migration 0015 makes both):

- SQLite: the FTS5 table `transcript_fts` (rowid = segment id), kept in step with
  `transcript_segments` by triggers;
- PostgreSQL: `to_tsvector('simple', text)` under a GIN index.

Hits come newest call first, and in time order within a call. Of a call transcribed twice
(live, then by the post-call pass: `cases.post_segments`), only the transcript the case shows
is searched.

A query is words (all must occur in one segment, any order, accents and case ignored on
SQLite; case ignored on PostgreSQL) or, in double quotes, a phrase (the words in order).
Punctuation and operators in the query are dropped, never passed to either engine's query
syntax. Results can be limited to the interactions of some agents (`agents`): the caller
decides who may see what.

The index holds the redacted text the store keeps (`cases.redact`). An erasure deletes the
segments (the SQLite triggers and the PostgreSQL index follow); `erase_interactions` empties
the SQLite index of given interactions explicitly, for an erasure that runs it first.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, column, exists, or_, select, table, text
from sqlalchemy.orm import Session, aliased

from cases.errors import InvalidInput
from cases.models import Interaction, TranscriptSegment

MAX_QUERY = 200
MAX_WORDS = 16
FTS_TABLE = "transcript_fts"
_WORD = re.compile(r"\w+")
_fts = table(FTS_TABLE, column("rowid"))
_PG_MATCH = "to_tsvector('simple', transcript_segments.text) @@ plainto_tsquery('simple', :q)"
_PG_PHRASE = ("' ' || lower(regexp_replace(transcript_segments.text, '[[:space:][:punct:]]+', "
              "' ', 'g')) || ' ' LIKE :phrase")


@dataclass(frozen=True)
class Query:
    """A parsed search: its words, and whether they form a phrase."""

    words: tuple[str, ...]
    phrase: bool

    @classmethod
    def parse(cls, raw: object) -> Query:
        """Words of `raw` (quoted: a phrase); InvalidInput when there are none or too many."""
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidInput("a search needs at least one word", "q")
        if len(raw) > MAX_QUERY:
            raise InvalidInput(f"at most {MAX_QUERY} characters", "q")
        words = tuple(w.lower() for w in _WORD.findall(raw))
        if not words:
            raise InvalidInput("a search needs at least one word", "q")
        if len(words) > MAX_WORDS:
            raise InvalidInput(f"at most {MAX_WORDS} words", "q")
        stripped = raw.strip()
        return cls(words, len(stripped) > 1 and stripped[0] == stripped[-1] == '"')

    def like(self) -> str:
        """The phrase as a LIKE pattern over space-separated words ("_" escaped)."""
        return "% " + " ".join(w.replace("_", "\\_") for w in self.words) + " %"

    def fts5(self) -> str:
        """The SQLite FTS5 form: each word a quoted string (no operator survives)."""
        if self.phrase:
            return '"' + " ".join(self.words) + '"'
        return " ".join(f'"{w}"' for w in self.words)


@dataclass(frozen=True)
class SearchHit:
    """One segment that matched, with its interaction's call and agent."""

    segment_id: int
    interaction_id: int
    call_id: str | None
    agent: str | None
    speaker: str
    start: float
    end: float
    text: str
    started_at: datetime

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started_at"] = self.started_at.isoformat()
        return out


def search(session: Session, query: Query, *, agents: Collection[str] | None = None,
           limit: int = 50) -> list[SearchHit]:
    """The first `limit` segments matching `query` (newest calls first), of `agents'`
    interactions if given."""
    stmt = (select(TranscriptSegment.id, TranscriptSegment.interaction_id, Interaction.call_id,
                   Interaction.agent, TranscriptSegment.speaker, TranscriptSegment.start,
                   TranscriptSegment.end, TranscriptSegment.text, Interaction.started_at)
            .join(Interaction, Interaction.id == TranscriptSegment.interaction_id))
    if session.get_bind().dialect.name == "sqlite":
        stmt = (stmt.join(_fts, _fts.c.rowid == TranscriptSegment.id)
                .where(text(f"{FTS_TABLE} MATCH :q")).params(q=query.fts5()))
    else:
        stmt = stmt.where(text(_PG_MATCH)).params(q=" ".join(query.words))
        if query.phrase:
            # phraseto_tsquery misses phrases around a hyphenated word ("an ill-disposed
            # man": the parser puts the compound between "an" and "ill"). The index finds
            # the lines with every word; the phrase is then checked on the words as FTS5
            # sees them (punctuation and spaces as one space).
            stmt = stmt.where(text(_PG_PHRASE)).params(phrase=query.like())
    # Newest calls first, each call's lines in order: the same on both engines, and cheap
    # (ranking by relevance scores every match: bench/transcript_search.py measured 0.3 s
    # on PostgreSQL and 76 ms on SQLite for a frequent word over 100,000 segments).
    stmt = stmt.order_by(Interaction.started_at.desc(), Interaction.id.desc(),
                         TranscriptSegment.start, TranscriptSegment.id)
    # Only the transcript the case shows: the post-call pass's lines where there are any
    # (cases.post_segments), else the live ones; never both copies of one call.
    post = aliased(TranscriptSegment)
    stmt = stmt.where(or_(TranscriptSegment.source == "post", ~exists().where(
        post.interaction_id == TranscriptSegment.interaction_id, post.source == "post")))
    if agents is not None:
        if not agents:
            return []
        stmt = stmt.where(Interaction.agent.in_(sorted(agents)))
    rows = session.execute(stmt.limit(limit)).all()
    return [SearchHit(*row) for row in rows]


def erase_interactions(connection: Connection, interaction_ids: Collection[int]) -> int:
    """Remove the index entries of `interaction_ids`' segments; how many went. Run it before
    their segments are deleted (afterwards the triggers did it already: 0). PostgreSQL's
    index is the segments' own: nothing to do there."""
    if connection.dialect.name != "sqlite" or not interaction_ids:
        return 0
    ids = sorted(interaction_ids)
    marks = ", ".join(f":i{n}" for n in range(len(ids)))
    result = connection.execute(
        text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN (SELECT id FROM transcript_segments "
             f"WHERE interaction_id IN ({marks}))"),
        {f"i{n}": i for n, i in enumerate(ids)})
    return int(result.rowcount or 0)
