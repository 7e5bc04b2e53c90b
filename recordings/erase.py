"""Recordings of one person, for GDPR export and erasure (`cases.gdpr.Holder`).

A person's recordings are the index rows of their interactions or calls. Export adds each
row (JSON) and its file; erasure deletes every file the row may have had (the filed one, and
the WAV or Opus a stopped settle may have left) and then the rows, in one transaction. The
access audit (`recording_audit`) stays: it names staff and recording ids, no personal data.
The post-call pass's queue rows (`postcall_jobs`) of those recordings go with them.

Refused (`ErasureRefused`, nothing deleted): a recording on legal hold, one still being
recorded (its call is live: erase after it ends), or one the post-call pass is transcribing
(its segments would land after the erasure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select

from cases.db import DbWorker
from cases.errors import StorageError
from cases.gdpr import Archive, ErasureRefused, Subject
from recordings.storage import RecordingStorage
from recordings.tables import postcall_jobs, recordings

_SUFFIXES = (".wav", ".opus", ".opus.part", ".wav.part")


class RecordingsHolder:
    """The `recordings` rows and files of a subject."""

    name = "recordings"

    def __init__(self, db: DbWorker, storage: RecordingStorage, *,
                 recording: Callable[[], Collection[str]] = tuple,
                 settled: Callable[[], Awaitable[None]] | None = None) -> None:
        self._db = db
        self._storage = storage
        self._recording = recording  # call ids being recorded right now
        self._settled = settled  # waits for the files being compressed and filed

    @classmethod
    async def open(cls, url: str, storage: RecordingStorage, *,
                   recording: Callable[[], Collection[str]] = tuple,
                   settled: Callable[[], Awaitable[None]] | None = None) -> RecordingsHolder:
        db = await DbWorker.open_migrated(
            url, workers=1, thread_name="recordings-gdpr", name="the recording index",
            error=StorageError, hide_parameters=True)
        return cls(db, storage, recording=recording, settled=settled)

    async def close(self) -> None:
        await self._db.close()

    def _where(self, subject: Subject) -> Any:
        return or_(recordings.c.interaction_id.in_(subject.interaction_ids),
                   recordings.c.call_id.in_(subject.call_ids))

    def _rows(self, subject: Subject) -> list[dict[str, Any]]:
        query = select(recordings).where(self._where(subject)).order_by(recordings.c.id)
        with self._db.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def _passes_running(self, ids: list[str]) -> int:
        query = select(postcall_jobs.c.recording_id).where(
            postcall_jobs.c.recording_id.in_(ids), postcall_jobs.c.status == "running")
        with self._db.engine.connect() as c:
            return len(c.execute(query).all())

    async def export(self, subject: Subject, archive: Archive) -> None:
        rows = await self._db.run(self._rows, subject)
        await asyncio.to_thread(archive.add_json, "recordings/recordings.json", rows)
        for row in rows:
            if row["deleted_wall"] is not None:
                continue
            await asyncio.to_thread(self._export_file, row, archive)

    def _export_file(self, row: dict[str, Any], archive: Archive) -> None:
        location = str(row["location"])
        try:
            size = self._storage.size(location)
            data = self._storage.read(location, 0, size)
        except (FileNotFoundError, ValueError):
            return  # listed in recordings.json; the file itself is gone
        suffix = location.rsplit(".", 1)[-1] if "." in location else "bin"
        archive.add_bytes(f"recordings/{row['id']}.{suffix}", data)

    async def check(self, subject: Subject) -> None:
        """`ErasureRefused` if a recording is held, being recorded or being transcribed."""
        rows = await self._db.run(self._rows, subject)
        self._refusal(rows)
        if await self._db.run(self._passes_running, [str(r["id"]) for r in rows]):
            raise ErasureRefused(self.name, "a post-call pass is transcribing a recording")

    def _refusal(self, rows: list[dict[str, Any]]) -> None:
        live = set(self._recording())
        if any(r["held"] for r in rows):
            raise ErasureRefused(self.name, "a recording is on legal hold")
        if any(r["status"] == "recording" or r["call_id"] in live for r in rows):
            raise ErasureRefused(self.name, "a call is still being recorded")

    async def erase(self, subject: Subject) -> dict[str, int]:
        if self._settled is not None:
            await self._settled()  # a settle under way would file a new copy after us
        await self.check(subject)  # again: a call may have started since
        rows = await self._db.run(self._rows, subject)
        files = 0
        for row in rows:
            files += await asyncio.to_thread(self._delete_files, row)
        deleted, jobs = await self._db.run(
            self._delete_rows, [str(r["id"]) for r in rows], subject)
        return {"recordings.files": files, "recordings.rows": deleted,
                "recordings.postcall_jobs": jobs}

    def _delete_files(self, row: dict[str, Any]) -> int:
        when = datetime.fromtimestamp(float(row["started_wall"]), UTC)
        locations = {str(row["location"])}
        for suffix in _SUFFIXES:
            try:
                locations.add(self._storage.locate(str(row["id"]), when, suffix))
            except ValueError:
                continue
        gone = 0
        for location in sorted(locations):
            try:
                self._storage.size(location)
            except (FileNotFoundError, ValueError):
                continue  # not there (an unreachable store raises OSError: the erase stops)
            self._storage.delete(location)
            gone += 1
        return gone

    def _delete_rows(self, ids: list[str], subject: Subject) -> tuple[int, int]:
        with self._db.engine.begin() as c:
            jobs = c.execute(delete(postcall_jobs).where(or_(
                postcall_jobs.c.recording_id.in_(ids),
                postcall_jobs.c.interaction_id.in_(subject.interaction_ids))))
            result = c.execute(delete(recordings).where(recordings.c.id.in_(ids)))
        return int(result.rowcount or 0), int(jobs.rowcount or 0)
