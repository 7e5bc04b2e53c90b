"""The post-call pass's job queue: the `postcall_jobs` table (recordings.tables), one job per
recording, persisted so that a stopped or killed server resumes where it was.

    queued --claim--> running --done--> done
                         |  \\--fail (attempts left)--> queued
                         |   \\--fail (no attempts left)--> failed
                         \\--lease runs out (its process died)--> claimed again

A claim takes the oldest queued job, or a running one whose `lease_until` has passed (the
process that held it was killed: nothing else renews a lease), sets the owner and a new
lease, and counts an attempt. Claims are a conditional UPDATE (the row still in the state
it was read in), so two nodes sharing the database never run one job twice. The runner
renews its lease while the pass runs (`renew`).

Times are UNIX wall seconds from the injected clock (the composition root's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cases.db import DbWorker
from cases.errors import StorageError
from recordings.tables import postcall_jobs

Wall = Callable[[], float]


@dataclass(frozen=True)
class PostCallJob:
    """One row of `postcall_jobs`."""

    recording_id: str
    interaction_id: int | None
    status: str
    attempts: int
    queued_wall: float
    model: str | None = None
    language: str | None = None
    started_wall: float | None = None
    finished_wall: float | None = None
    lease_until: float | None = None
    owner: str | None = None
    error: str | None = None
    segments: int | None = None
    audio_s: float | None = None
    cpu_s: float | None = None
    wall_s: float | None = None

    @property
    def rtf(self) -> float | None:
        """Wall seconds per second of audio (every channel counted), once done."""
        if self.wall_s is None or not self.audio_s:
            return None
        return self.wall_s / self.audio_s


def _job(r: Any) -> PostCallJob:
    return PostCallJob(**{c.name: getattr(r, c.name) for c in postcall_jobs.columns})


class PostCallQueue:
    """The table, on a database thread of its own; `await PostCallQueue.open(url, wall=...)`."""

    def __init__(self, db: DbWorker, wall: Wall, *, max_attempts: int = 3) -> None:
        self._db = db
        self.wall = wall
        self.max_attempts = max_attempts

    @classmethod
    async def open(cls, url: str, *, wall: Wall, max_attempts: int = 3) -> PostCallQueue:
        db = await DbWorker.open_migrated(
            url, workers=1, thread_name="postcall-db", name="the post-call queue",
            error=StorageError, hide_parameters=True)
        return cls(db, wall, max_attempts=max_attempts)

    async def close(self) -> None:
        await self._db.close()

    async def enqueue(self, recording_id: str, interaction_id: int | None) -> bool:
        """Queue `recording_id` once; False when it already has a job (a repeated notice)."""
        return await self._db.run(self._enqueue, recording_id, interaction_id)

    def _enqueue(self, recording_id: str, interaction_id: int | None) -> bool:
        try:
            with self._db.engine.begin() as c:
                c.execute(insert(postcall_jobs).values(
                    recording_id=recording_id, interaction_id=interaction_id, status="queued",
                    attempts=0, queued_wall=self.wall()))
        except IntegrityError:
            return False
        return True

    async def claim(self, owner: str, lease_s: float) -> PostCallJob | None:
        """The next job for `owner` (see the module doc), or None when there is none."""
        return await self._db.run(self._claim, owner, lease_s)

    def _claim(self, owner: str, lease_s: float) -> PostCallJob | None:
        now = self.wall()
        claimable = or_(
            postcall_jobs.c.status == "queued",
            (postcall_jobs.c.status == "running") & (postcall_jobs.c.lease_until < now))
        with self._db.engine.connect() as c:
            candidates = c.execute(select(postcall_jobs).where(claimable)
                                   .order_by(postcall_jobs.c.queued_wall).limit(5)).all()
        for r in candidates:
            with self._db.engine.begin() as c:
                done = c.execute(update(postcall_jobs).where(
                    postcall_jobs.c.recording_id == r.recording_id,
                    postcall_jobs.c.status == r.status,
                    postcall_jobs.c.attempts == r.attempts,
                ).values(status="running", owner=owner, lease_until=now + lease_s,
                         started_wall=now, attempts=r.attempts + 1, error=None))
            if done.rowcount == 1:
                return self._get(r.recording_id)
        return None

    async def renew(self, recording_id: str, owner: str, lease_s: float) -> bool:
        """Extend the lease of a job `owner` holds; False if it no longer holds it."""
        return await self._db.run(self._renew, recording_id, owner, lease_s)

    def _renew(self, recording_id: str, owner: str, lease_s: float) -> bool:
        with self._db.engine.begin() as c:
            done = c.execute(update(postcall_jobs).where(
                postcall_jobs.c.recording_id == recording_id, postcall_jobs.c.owner == owner,
                postcall_jobs.c.status == "running",
            ).values(lease_until=self.wall() + lease_s))
        return bool(done.rowcount == 1)

    async def finish(self, recording_id: str, owner: str, **figures: Any) -> None:
        """The job is done: its figures (model, language, segments, audio_s, cpu_s, wall_s)."""
        await self._db.run(self._set, recording_id, owner, {
            **figures, "status": "done", "finished_wall": self.wall(), "lease_until": None})

    async def fail(self, recording_id: str, owner: str, error: str, *,
                   retry: bool = True) -> str:
        """The attempt failed (`error`: a class name or a short reason, no personal data):
        queued again while attempts are left and `retry`, else failed. Returns the status."""
        job = await self.get(recording_id)
        again = retry and job is not None and job.attempts < self.max_attempts
        status = "queued" if again else "failed"
        await self._db.run(self._set, recording_id, owner, {
            "status": status, "error": error[:200], "lease_until": None,
            "finished_wall": None if again else self.wall()})
        return status

    async def release(self, recording_id: str, owner: str) -> None:
        """Give a running job back (a clean stop): queued again, the attempt not counted."""
        job = await self.get(recording_id)
        if job is not None:
            await self._db.run(self._set, recording_id, owner, {
                "status": "queued", "lease_until": None,
                "attempts": max(0, job.attempts - 1)})

    def _set(self, recording_id: str, owner: str, values: dict[str, Any]) -> None:
        with self._db.engine.begin() as c:
            c.execute(update(postcall_jobs).where(
                postcall_jobs.c.recording_id == recording_id,
                postcall_jobs.c.owner == owner).values(**values))

    async def get(self, recording_id: str) -> PostCallJob | None:
        return await self._db.run(self._get, recording_id)

    def _get(self, recording_id: str) -> PostCallJob | None:
        with self._db.engine.connect() as c:
            r = c.execute(select(postcall_jobs)
                          .where(postcall_jobs.c.recording_id == recording_id)).first()
        return None if r is None else _job(r)

    async def jobs(self, status: str | None = None) -> list[PostCallJob]:
        """Every job (or those in `status`), oldest first."""
        return await self._db.run(self._jobs, status)

    def _jobs(self, status: str | None) -> list[PostCallJob]:
        query = select(postcall_jobs).order_by(postcall_jobs.c.queued_wall)
        if status is not None:
            query = query.where(postcall_jobs.c.status == status)
        with self._db.engine.connect() as c:
            return [_job(r) for r in c.execute(query).all()]
