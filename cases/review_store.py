"""What the review pages read and write in the case database: transcript search, one
interaction's segments, and QA reviews (`cases.transcript_search`, `cases.qa`).

Open with `await ReviewStore.open(url)` (migrates; its own connection and thread, as the
recording index has); every method runs off the event loop. Who may see what is the
caller's to decide (`web.review`): `search` takes the agents whose interactions may show.

For the GDPR erasure: `erase_interactions(ids)` removes everything this store added for
those interactions (their reviews, their full-text entries) in one transaction, and the
module functions `cases.qa.erase_interactions` / `cases.transcript_search.erase_interactions`
do the same inside a transaction the caller already holds.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import qa, transcript_search
from cases.db import DbWorker
from cases.errors import StorageError
from cases.models import Interaction, TranscriptSegment
from cases.post_segments import shown
from cases.store_base import system_clock
from cases.transcript_search import Query, SearchHit


class ReviewStore:
    """Search, segments and QA reviews (see the module doc)."""

    def __init__(self, db: DbWorker, now: Callable[[], datetime] = system_clock) -> None:
        self._db = db
        self._now = now

    @classmethod
    async def open(cls, url: str, *,
                   now: Callable[[], datetime] = system_clock) -> ReviewStore:
        db = await DbWorker.open_migrated(
            url, workers=2, thread_name="review-db", name="the review store",
            error=StorageError, hide_parameters=True)
        return cls(db, now)

    async def close(self) -> None:
        await self._db.close()

    def _session(self) -> Session:
        return Session(self._db.engine, expire_on_commit=False)

    async def search(self, query: Query, *, agents: Collection[str] | None = None,
                     limit: int = 50) -> list[SearchHit]:
        """Segments matching `query` (of `agents`' interactions when given), best first."""
        def run() -> list[SearchHit]:
            with self._session() as session:
                return transcript_search.search(session, query, agents=agents, limit=limit)
        return await self._db.run(run)

    async def segments(self, interaction_id: int) -> list[dict[str, Any]]:
        """The interaction's transcript the case shows (`cases.post_segments.shown`: the
        post-call pass's when there is one, else the live one) in time order: id, speaker,
        start, end, text, language, source (times in seconds from the call's answer)."""
        def run() -> list[dict[str, Any]]:
            with self._session() as session:
                rows = session.scalars(
                    select(TranscriptSegment)
                    .where(TranscriptSegment.interaction_id == interaction_id)
                    .order_by(TranscriptSegment.start, TranscriptSegment.id)).all()
            return [{"id": s.id, "speaker": s.speaker, "start": s.start, "end": s.end,
                     "text": s.text, "language": s.language, "source": s.source}
                    for s in shown(rows)]
        return await self._db.run(run)

    async def agent_of(self, interaction_id: int) -> tuple[bool, str | None]:
        """(whether the interaction exists, its agent)."""
        def run() -> tuple[bool, str | None]:
            with self._session() as session:
                row = session.get(Interaction, interaction_id)
            return (False, None) if row is None else (True, row.agent)
        return await self._db.run(run)

    async def add_review(self, interaction_id: int, reviewer: str, score: object,
                         notes: object) -> dict[str, Any]:
        """Store a QA review (InvalidInput for a bad score or notes, NotFound for no such
        interaction)."""
        def run() -> dict[str, Any]:
            with self._session() as session, session.begin():
                return qa.add(session, interaction_id, reviewer, score, notes, self._now())
        return await self._db.run(run)

    async def reviews(self, interaction_id: int) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            with self._session() as session:
                return qa.of_interaction(session, interaction_id)
        return await self._db.run(run)

    async def erase_interactions(self, interaction_ids: Collection[int]) -> dict[str, int]:
        """Remove the reviews and full-text entries of `interaction_ids`; counts by kind."""
        def run() -> dict[str, int]:
            with self._db.engine.begin() as connection:
                return {
                    "review.qa": qa.erase_interactions(connection, interaction_ids),
                    "review.search": transcript_search.erase_interactions(
                        connection, interaction_ids),
                }
        return await self._db.run(run)
