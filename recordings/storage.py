"""Where recordings live, and their index.

`RecordingStorage` is the interface; `FileStorage` (the default) keeps each recording at
DATA_DIR/recordings/YYYY/MM/DD/<id>.wav (then <id>.opus), directories 0700 and files 0600:
a recording is the most personal data the server holds. A storage hands out a local file to
write while the call runs (the recorder streams into it); `put()` files the final one (the
filesystem renames it, `recordings.s3.S3Storage` uploads it), `size`/`read`/`delete` serve
it afterwards.

`RecordingIndex` keeps one row per recording in the `recordings` table (recordings.tables):
written when the recording starts (status 'recording'), completed at close (duration,
sha256, paused spans, 'complete' or 'failed'). `repair_interrupted()` runs at start-up: a row
still 'recording' was left by a killed process; its file's header is made to count what is
on disk, and the row gets that duration, the file's sha256 and status 'interrupted'. Later
columns (migration 0011): codec and size once the file is settled, the interaction's queue and
agent, the legal hold, the deletion mark. `unsettled()`, `expired()` and `find()` serve the
start-up, retention and the review API; `audit` is the access log (recordings.audit).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy import Connection, false, insert, select, update

from cases.db import DbWorker
from cases.errors import StorageError
from recordings.audit import AccessAudit
from recordings.tables import recordings
from recordings.wavfile import repair, sha256_of

log = logging.getLogger(__name__)


class RecordingStorage(Protocol):
    """Where recording files go: `FileStorage` (default) or `recordings.s3.S3Storage`.

    While a call runs its WAV is a local file (`create`, `local_path`); once it is final
    (compressed or not) `put` files it under its final location, which `size`, `read` and
    `delete` then serve. Every method blocks (run them off the event loop).
    """

    def create(self, recording_id: str, when: datetime) -> tuple[str, BinaryIO]:
        """A new, empty file for `recording_id` and its location key (opened for writing)."""
        ...

    def local_path(self, location: str) -> Path:
        """The local file behind `location` (to repair, hash or read it)."""
        ...

    def finish(self, location: str) -> None:
        """The local recording is complete (nothing more will be written to it)."""
        ...

    def put(self, local: Path, recording_id: str, when: datetime, suffix: str) -> str:
        """File the finished `local` file as `recording_id` (`suffix` e.g. '.opus'); returns
        its final location. An object store uploads it and removes the local copy."""
        ...

    def locate(self, recording_id: str, when: datetime, suffix: str) -> str:
        """The location `put` gives (or gave) `recording_id`'s file with `suffix`."""
        ...

    def size(self, location: str) -> int:
        """Bytes stored at `location` (FileNotFoundError when there are none)."""
        ...

    def read(self, location: str, start: int, length: int) -> bytes:
        """Up to `length` bytes of `location` from byte `start`."""
        ...

    def delete(self, location: str) -> None:
        """Remove what is stored at `location` (nothing there is not an error)."""
        ...


class FileStorage:
    """Recordings under `root` (DATA_DIR/recordings), by day, private to the server's user."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self, recording_id: str, when: datetime) -> tuple[str, BinaryIO]:
        relative = self.make_dirs(recording_id, when, ".wav")
        fd = os.open(self.root / relative, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        return relative.as_posix(), os.fdopen(fd, "w+b")

    def make_dirs(self, recording_id: str, when: datetime, suffix: str) -> Path:
        """The relative path of `recording_id`'s file, its day's directories made (0700)."""
        relative = Path(self.locate(recording_id, when, suffix))
        directory = self.root
        for part in ("", *relative.parts[:-1]):
            directory = directory / part
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
        return relative

    def put(self, local: Path, recording_id: str, when: datetime, suffix: str) -> str:
        relative = self.make_dirs(recording_id, when, suffix)
        target = self.root / relative
        if local.resolve() != target.resolve():
            os.replace(local, target)
        os.chmod(target, 0o600)
        return relative.as_posix()

    def locate(self, recording_id: str, when: datetime, suffix: str) -> str:
        if not recording_id or not recording_id.replace("-", "").isalnum():
            raise ValueError(f"recording id must be letters, digits and '-', got {recording_id!r}")
        return Path(f"{when:%Y}", f"{when:%m}", f"{when:%d}",
                    f"{recording_id}{suffix}").as_posix()

    def size(self, location: str) -> int:
        return self.local_path(location).stat().st_size

    def read(self, location: str, start: int, length: int) -> bytes:
        with self.local_path(location).open("rb") as f:
            f.seek(start)
            return f.read(length)

    def delete(self, location: str) -> None:
        self.local_path(location).unlink(missing_ok=True)

    def local_path(self, location: str) -> Path:
        path = (self.root / location).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"recording location {location!r} is outside the recordings root")
        return path

    def finish(self, location: str) -> None:
        return None


@dataclass(frozen=True)
class RecordingRow:
    """One recording's index row."""

    id: str
    call_id: str
    interaction_id: int | None
    location: str
    channels: int
    sample_rate: int
    started_wall: float
    status: str
    paused_spans: list[dict[str, Any]]
    ended_wall: float | None = None
    duration: float | None = None
    sha256: str | None = None
    error: str | None = None
    codec: str = "wav"
    size_bytes: int | None = None
    queue: str | None = None
    agent: str | None = None
    held: bool = False
    held_by: str | None = None
    held_wall: float | None = None
    deleted_wall: float | None = None
    deleted_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as the review API shows it (no storage credentials, no personal data)."""
        return dict(self.__dict__)


def _row(r: Any) -> RecordingRow:
    return RecordingRow(
        id=r.id, call_id=r.call_id, interaction_id=r.interaction_id, location=r.location,
        channels=r.channels, sample_rate=r.sample_rate, started_wall=r.started_wall,
        status=r.status, paused_spans=list(r.paused_spans or []), ended_wall=r.ended_wall,
        duration=r.duration, sha256=r.sha256, error=r.error, codec=r.codec,
        size_bytes=r.size_bytes, queue=r.queue, agent=r.agent, held=bool(r.held),
        held_by=r.held_by, held_wall=r.held_wall, deleted_wall=r.deleted_wall,
        deleted_reason=r.deleted_reason)


class RecordingIndex:
    """The `recordings` table; open with `await RecordingIndex.open(url)` (migrates)."""

    def __init__(self, db: DbWorker) -> None:
        self._db = db
        self.audit = AccessAudit(db)

    @classmethod
    async def open(cls, url: str) -> RecordingIndex:
        db = await DbWorker.open_migrated(
            url, workers=1, thread_name="recordings-db", name="the recording index",
            error=StorageError, hide_parameters=True)
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def start(self, row: RecordingRow) -> None:
        """Insert the row of a recording that has begun."""
        await self._db.run(self._insert, row)

    def _insert(self, row: RecordingRow) -> None:
        with self._db.engine.begin() as c:
            c.execute(insert(recordings).values(**row.__dict__))

    async def update(self, recording_id: str, **values: Any) -> None:
        """Set columns of one row (spans while it runs; the outcome at close)."""
        await self._db.run(self._update, recording_id, values)

    def _update(self, recording_id: str, values: dict[str, Any]) -> None:
        with self._db.engine.begin() as c:
            c.execute(update(recordings).where(recordings.c.id == recording_id).values(**values))

    async def get(self, recording_id: str) -> RecordingRow | None:
        return await self._db.run(self._get, recording_id)

    def _get(self, recording_id: str) -> RecordingRow | None:
        with self._db.engine.connect() as c:
            r = c.execute(select(recordings).where(recordings.c.id == recording_id)).first()
        return None if r is None else _row(r)

    async def for_call(self, call_id: str) -> list[RecordingRow]:
        return await self._db.run(self._for_call, call_id)

    def _for_call(self, call_id: str) -> list[RecordingRow]:
        with self._db.engine.connect() as c:
            rows = c.execute(select(recordings).where(recordings.c.call_id == call_id)
                             .order_by(recordings.c.started_wall)).all()
        return [_row(r) for r in rows]

    async def find(
        self, *, interaction_id: int | None = None, agents: frozenset[str] | None = None,
        limit: int = 100,
    ) -> list[RecordingRow]:
        """Rows newest first: of one interaction, and/or whose `agent` is one of `agents`."""
        return await self._db.run(self._find, interaction_id, agents, limit)

    def _find(self, interaction_id: int | None, agents: frozenset[str] | None,
              limit: int) -> list[RecordingRow]:
        query = select(recordings).order_by(recordings.c.started_wall.desc()).limit(limit)
        if interaction_id is not None:
            query = query.where(recordings.c.interaction_id == interaction_id)
        if agents is not None:
            query = query.where(recordings.c.agent.in_(sorted(agents)))
        with self._db.engine.connect() as c:
            return [_row(r) for r in c.execute(query).all()]

    async def unsettled(self) -> list[RecordingRow]:
        """Ended rows whose file was never filed (not compressed, no size: a kill came first)."""
        return await self._db.run(self._unsettled)

    def _unsettled(self) -> list[RecordingRow]:
        query = select(recordings).where(
            recordings.c.status.in_(("complete", "interrupted")),
            recordings.c.size_bytes.is_(None), recordings.c.deleted_wall.is_(None))
        with self._db.engine.connect() as c:
            return [_row(r) for r in c.execute(query).all()]

    async def expired(self, before: dict[str | None, float]) -> list[RecordingRow]:
        """Rows not deleted, not held and not recording, started before the cut-off of their
        queue (`before[queue]`, `before[None]` for every queue not named; no entry: kept)."""
        return await self._db.run(self._expired, before)

    def _expired(self, before: dict[str | None, float]) -> list[RecordingRow]:
        query = select(recordings).where(
            recordings.c.deleted_wall.is_(None), recordings.c.held == false(),
            recordings.c.status != "recording",
            recordings.c.started_wall < max(before.values(), default=0.0))
        with self._db.engine.connect() as c:
            rows = [_row(r) for r in c.execute(query).all()]
        out = []
        for row in rows:
            cut = before[row.queue] if row.queue in before else before.get(None)
            if cut is not None and row.started_wall < cut:
                out.append(row)
        return out

    async def repair_interrupted(self, storage: RecordingStorage) -> int:
        """Rows left 'recording' by a killed process become 'interrupted', with the duration
        and sha256 of what their file holds (its header repaired first). Call at start-up,
        before any recording begins. Returns how many were repaired."""
        return await self._db.run(self._repair, storage)

    def _repair(self, storage: RecordingStorage) -> int:
        with self._db.engine.connect() as c:
            left = c.execute(select(recordings.c.id, recordings.c.location)
                             .where(recordings.c.status == "recording")).all()
        for rid, location in left:
            values: dict[str, Any] = {"status": "interrupted"}
            try:
                path = storage.local_path(location)
                values["duration"] = repair(path)
                values["sha256"] = sha256_of(path)
            except (OSError, ValueError) as exc:
                values["error"] = type(exc).__name__
            with self._db.engine.begin() as c:
                self._set(c, rid, values)
        if left:
            log.warning("recordings: %d left 'recording' by a stopped process, now interrupted",
                        len(left))
        return len(left)

    @staticmethod
    def _set(c: Connection, rid: str, values: dict[str, Any]) -> None:
        c.execute(update(recordings).where(recordings.c.id == rid).values(**values))
