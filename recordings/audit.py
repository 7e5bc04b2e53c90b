"""The access audit of recordings: who did what to which recording, when, and the result.

One row per request that touches a recording (list, read, play, hold, release, delete; from
the review pages waveform, search, qa_read, qa_write) and per refusal, written before the
answer goes out. Columns hold no personal data: the actor is a staff user or token name
with its role, the object a recording or interaction id.
Retention's deletions are written too, as actor "system:retention".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from cases.db import DbWorker
from recordings.tables import recording_audit

ACTIONS = ("list", "read", "play", "download", "hold", "release", "delete",
           # the review pages (web.review): waveform, transcript search, QA reviews
           "waveform", "search", "qa_read", "qa_write")
RESULTS = ("ok", "forbidden", "not_found", "conflict", "gone", "invalid", "error")


@dataclass(frozen=True)
class Access:
    """One audited access."""

    at_wall: float
    actor: str
    role: str
    action: str
    result: str
    status: int
    recording_id: str | None = None
    interaction_id: int | None = None


class AccessAudit:
    """The `recording_audit` table (shares the recording index's database worker)."""

    def __init__(self, db: DbWorker) -> None:
        self._db = db

    async def write(self, access: Access) -> None:
        if access.action not in ACTIONS or access.result not in RESULTS:
            raise ValueError(f"unknown audit action/result {access.action!r}/{access.result!r}")
        await self._db.run(self._write, access)

    def _write(self, access: Access) -> None:
        with self._db.engine.begin() as c:
            c.execute(insert(recording_audit).values(**access.__dict__))

    async def entries(self, recording_id: str | None = None, limit: int = 200) -> list[Access]:
        """The newest entries first (of one recording when given)."""
        return await self._db.run(self._entries, recording_id, limit)

    def _entries(self, recording_id: str | None, limit: int) -> list[Access]:
        query = select(recording_audit).order_by(recording_audit.c.id.desc()).limit(limit)
        if recording_id is not None:
            query = query.where(recording_audit.c.recording_id == recording_id)
        with self._db.engine.connect() as c:
            rows: list[Any] = list(c.execute(query).all())
        return [Access(r.at_wall, r.actor, r.role, r.action, r.result, r.status,
                       r.recording_id, r.interaction_id) for r in rows]
