"""Recording calls, put together: storage, index, the disk thread and one recorder per call.

    recordings = await Recordings.open(FileStorage(root), index, wall=now_utc)
    await recordings.start(call, media, interaction_id=7)   # at answer
    recordings.attach_agent(call.id, agent_media)          # when bridged
    row = await recordings.finish(call.id, queue=..., agent=...)  # at hangup: the final row

After the call (`finish`): the WAV's row is completed (duration, sha256, 'complete'), then
the file is settled: compressed to Opus in Ogg (`recordings.compress`, verified by decoding
it back) and filed by the storage (`put`: renamed on the filesystem, uploaded to S3); the row
gets the final location, codec, size and sha256, and only then is the WAV removed. A
compression that fails keeps the WAV (filed as is, the row's `error` says why). Then the
webhook (if any) is told: 'recording.saved' or 'recording.failed'.

Settling runs on one thread of its own (`recording-settle`), one file at a time: 400 calls
ending together queue 400 encodes there rather than filling the default executor that new
calls' file creation waits on, and compression never takes more than one core from the
media clock. The call handler does not wait for it (`finish(..., wait=False)`); a settle
still queued at shutdown is dropped and done again at the next start (the rows say so).

`open()` repairs rows a killed process left 'recording' before anything else is recorded,
and settles, in the background, every ended row whose file was never filed (a kill during
compression or upload leaves the WAV and its row; the half-written Opus is overwritten).

Retention (`sweep`) and the review API's `delete` remove the file and keep the row, marked
deleted; a row on legal hold (`hold`) is never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from recordings.audit import Access
from recordings.compress import CompressionError, compress
from recordings.recorder import CallRecorder, PausedSpan, PrivacySource
from recordings.storage import RecordingIndex, RecordingRow, RecordingStorage
from recordings.wavfile import CHANNELS, RATE, DiskWriter, WavStream, sha256_of
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)

Notify = Callable[[dict[str, Any]], None]
_T = TypeVar("_T")


def _hash_stored(storage: RecordingStorage, location: str) -> tuple[str, int]:
    """sha256 and size of what `storage` holds at `location` (read in 1 MB blocks)."""
    size = storage.size(location)
    digest = hashlib.sha256()
    at = 0
    while at < size:
        block = storage.read(location, at, min(1 << 20, size - at))
        if not block:
            raise OSError(f"{location}: short read at {at} of {size}")
        digest.update(block)
        at += len(block)
    return digest.hexdigest(), size


class RecordingHeld(Exception):
    """The recording is on legal hold: it may not be deleted."""


def notice(row: RecordingRow, failure: str | None = None) -> dict[str, Any]:
    """The webhook's body for `row` (no personal data: ids, times, where, how it went);
    'recording.failed' when the recording failed or `failure` says its filing did."""
    failed = row.status == "failed" or failure is not None
    return {"event": "recording.failed" if failed else "recording.saved",
            "recording_id": row.id, "interaction_id": row.interaction_id,
            "duration": row.duration, "location": row.location, "status": row.status,
            "codec": row.codec, "size_bytes": row.size_bytes, "sha256": row.sha256,
            "error": failure or row.error}


class Recordings:
    """Every recording of the process (one `DiskWriter` thread for all of them)."""

    def __init__(
        self, storage: RecordingStorage, index: RecordingIndex, *,
        wall: Callable[[], datetime], writer: DiskWriter | None = None,
        compress: bool = True, notify: Notify | None = None,
    ) -> None:
        self.storage = storage
        self.index = index
        self.wall = wall
        self.writer = writer or DiskWriter()
        self.compress = compress
        self.notify = notify
        self.active: dict[str, tuple[str, str, CallRecorder]] = {}  # call id -> (id, loc, rec)
        # The media clock's schedule position (`MediaTicker.tick_index`), set by the server:
        # recordings fill the ticks it skipped with silence (`CallRecorder`).
        self.tick_index: Callable[[], int] | None = None
        self.repaired = 0
        self.settled_at_start = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._resume: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[RecordingRow]] = set()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-settle")

    async def _off_loop(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run blocking file or upload work on the settle thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    @classmethod
    async def open(
        cls, storage: RecordingStorage, index: RecordingIndex, *,
        wall: Callable[[], datetime], writer: DiskWriter | None = None,
        compress: bool = True, notify: Notify | None = None,
    ) -> Recordings:
        self = cls(storage, index, wall=wall, writer=writer, compress=compress, notify=notify)
        self.repaired = await index.repair_interrupted(storage)
        # Read before any new recording can end: only these rows are settled in the
        # background, never one that `finish` is settling itself.
        left = await index.unsettled()
        self.writer.start()
        self._resume = asyncio.get_running_loop().create_task(self._settle_left(left))
        return self

    async def resumed(self) -> None:
        """Wait until the files left unsettled by a stopped process are settled."""
        if self._resume is not None:
            await asyncio.shield(self._resume)

    async def _settle_left(self, left: list[RecordingRow]) -> None:
        for row in left:
            try:
                await self._settle(row)
                self.settled_at_start += 1
            except Exception:
                log.exception("recording %s: settling it at start-up failed", row.id)
        if self.settled_at_start:
            log.warning("recordings: %d left unfiled by a stopped process, now settled",
                        self.settled_at_start)

    async def start(
        self, call_id: str, privacy: PrivacySource, caller: LegMedia, *,
        interaction_id: int | None = None, origin_tick: int | None = None,
    ) -> str:
        """Begin recording `call_id` from its caller's leg; returns the recording's id. The
        taps go on first (no audio is lost to the database round trip), then the row.
        `origin_tick`: `tick_index()` at the call's answer, where the file starts (see
        `CallRecorder`)."""
        rid = uuid.uuid4().hex
        started = self.wall()
        location, file = await asyncio.to_thread(self.storage.create, rid, started)
        stream = await asyncio.to_thread(WavStream, file)
        recorder = CallRecorder(call_id, privacy, stream, self.writer,
                                on_spans=lambda spans: self._spans(rid, spans),
                                tick_index=self.tick_index, origin_tick=origin_tick)
        recorder.attach_caller(caller)
        self.active[call_id] = (rid, location, recorder)
        await self.index.start(RecordingRow(
            id=rid, call_id=call_id, interaction_id=interaction_id, location=location,
            channels=CHANNELS, sample_rate=RATE, started_wall=started.timestamp(),
            status="recording", paused_spans=[s.to_json() for s in recorder.paused_spans]))
        log.info("call %s: recording %s started", call_id, rid)
        return rid

    def attach_agent(self, call_id: str, media: LegMedia) -> bool:
        """The agent's leg joins the right channel; False when the call is not recorded."""
        active = self.active.get(call_id)
        if active is None:
            return False
        active[2].attach_agent(media)
        return True

    def add_party(self, call_id: str, name: str, media: LegMedia | None, side: str) -> bool:
        """A conference party (or a barging supervisor) mixed into a side of the call's
        recording, or taken out of it (`media` None); False when the call is not recorded."""
        active = self.active.get(call_id)
        if active is None:
            return False
        if media is None:
            active[2].remove_party(name)
        else:
            active[2].add_party(name, media, side)
        return True

    async def set_interaction(self, call_id: str, interaction_id: int) -> None:
        """Link the call's recording to its interaction (opened after the answer)."""
        active = self.active.get(call_id)
        if active is not None:
            await self.index.update(active[0], interaction_id=interaction_id)

    def _spans(self, rid: str, spans: list[PausedSpan]) -> None:
        # Kept in the row as they happen, so a killed process still leaves them indexed.
        task = asyncio.ensure_future(
            self.index.update(rid, paused_spans=[s.to_json() for s in spans]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish(self, call_id: str, *, queue: str | None = None,
                     agent: str | None = None, wait: bool = True) -> RecordingRow | None:
        """Close the call's recording, complete its row and settle its file (see the module
        doc); `queue` and `agent` are the interaction's. Returns the settled row, or with
        `wait=False` the completed one while the settle goes on in the background. None if
        the call was not recorded."""
        active = self.active.pop(call_id, None)
        if active is None:
            return None
        rid, location, recorder = active
        result = await recorder.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        values: dict[str, object] = {
            "ended_wall": self.wall().timestamp(), "duration": result.duration,
            "paused_spans": [s.to_json() for s in result.paused_spans],
            "status": "failed" if result.failed else "complete", "error": result.failed,
            "queue": queue, "agent": agent,
        }
        try:
            path = self.storage.local_path(location)
            values["sha256"] = await asyncio.to_thread(sha256_of, path)
            await asyncio.to_thread(self.storage.finish, location)
        except (OSError, ValueError) as exc:
            values["status"], values["error"] = "failed", result.failed or type(exc).__name__
        await self.index.update(rid, **values)
        log.info("call %s: recording %s %s (%.1f s, %d chunks dropped)", call_id, rid,
                 values["status"], result.duration, result.dropped_chunks)
        row = await self.index.get(rid)
        if row is not None and row.status == "complete":
            task = asyncio.get_running_loop().create_task(self._settle(row))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
            if wait:
                row = await asyncio.shield(task)
        elif row is not None:
            self._notify(row)
        return row

    async def _settle(self, row: RecordingRow) -> RecordingRow:
        """Compress (if configured) and file the WAV of an ended row; tell the webhook.

        Order: the final file is filed (complete: a rename, or an upload that appears whole),
        then the WAV is removed, then the row updated. A kill between the last two leaves a
        row pointing at a WAV that is gone: `_adopt` finds the filed file at start-up. (The
        other order could leave a WAV no row points at, which retention would never delete.)
        """
        wav = self.storage.local_path(row.location)
        when = datetime.fromtimestamp(row.started_wall, UTC)
        if not await self._off_loop(wav.exists):
            return await self._adopt(row, when)
        values: dict[str, Any] = {}
        final: Path = wav
        suffix = ".wav"
        if self.compress:
            part = wav.with_suffix(".opus.part")
            try:
                done = await self._off_loop(compress, wav, part)
                final, suffix = part, ".opus"
                values.update(codec="opus", sha256=done.sha256, size_bytes=done.size_bytes)
            except CompressionError as exc:
                log.error("recording %s: kept as WAV, compression failed (%s)", row.id,
                          type(exc.__cause__ or exc).__name__)
                values["error"] = "compression failed"
        try:
            if "size_bytes" not in values:
                values["size_bytes"] = (await self._off_loop(wav.stat)).st_size
            values["location"] = await self._off_loop(
                self.storage.put, final, row.id, when, suffix)
        except (OSError, ValueError) as exc:
            # The WAV stays where it is and the row as it was: the next start tries again.
            log.error("recording %s: filing it failed (%s)", row.id, type(exc).__name__)
            self._notify(row, f"filing failed: {type(exc).__name__}")
            return row
        if values["location"] != row.location:
            await self._off_loop(self.storage.delete, row.location)
        await self.index.update(row.id, **values)
        settled = await self.index.get(row.id) or row
        self._notify(settled)
        return settled

    async def _adopt(self, row: RecordingRow, when: datetime) -> RecordingRow:
        """The WAV of an unsettled row is gone: the row gets the file that was filed for it
        before the kill (Opus, or the WAV itself in an object store), hashed again; with
        none, the row says the file is missing (and is not tried again)."""
        for suffix, codec in ((".opus", "opus"), (".wav", "wav")):
            location = self.storage.locate(row.id, when, suffix)
            try:
                sha, size = await self._off_loop(_hash_stored, self.storage, location)
            except (OSError, ValueError):
                continue
            await self.index.update(row.id, location=location, codec=codec, size_bytes=size,
                                    sha256=sha)
            settled = await self.index.get(row.id) or row
            self._notify(settled)
            return settled
        log.error("recording %s: its file is missing", row.id)
        await self.index.update(row.id, size_bytes=0, error="file missing")
        return await self.index.get(row.id) or row

    def _notify(self, row: RecordingRow, failure: str | None = None) -> None:
        if self.notify is not None:
            try:
                self.notify(notice(row, failure))
            except Exception:
                log.exception("recording %s: queuing its webhook failed", row.id)

    # -- after the call: hold, delete, retention ---------------------------------------------
    async def hold(self, recording_id: str, held: bool, *, by: str) -> RecordingRow | None:
        """Put a legal hold on a recording (or release it); None if there is no such row."""
        row = await self.index.get(recording_id)
        if row is None:
            return None
        await self.index.update(recording_id, held=held, held_by=by if held else None,
                                held_wall=self.wall().timestamp() if held else None)
        return await self.index.get(recording_id)

    async def delete(self, recording_id: str, *, reason: str) -> RecordingRow | None:
        """Remove the recording's file and mark its row deleted; `RecordingHeld` if it is on
        legal hold, None if there is no such row. Deleting a deleted one changes nothing."""
        row = await self.index.get(recording_id)
        if row is None:
            return None
        if row.held:
            raise RecordingHeld(recording_id)
        if row.deleted_wall is not None:
            return row
        if row.status == "recording":
            raise ValueError(f"recording {recording_id} is still being recorded")
        await asyncio.to_thread(self.storage.delete, row.location)
        await self.index.update(recording_id, deleted_wall=self.wall().timestamp(),
                                deleted_reason=reason)
        return await self.index.get(recording_id)

    async def sweep(self, days: dict[str | None, float]) -> list[str]:
        """Retention: delete every recording older than its queue's `days[queue]` (or
        `days[None]`, for queues not named; no entry at all: kept). Held ones stay. Each
        deletion is audited as "system:retention". Returns the deleted ids."""
        now = self.wall().timestamp()
        cut = {queue: now - n * 86400.0 for queue, n in days.items()}
        deleted: list[str] = []
        for row in await self.index.expired(cut):
            try:
                done = await self.delete(row.id, reason="retention")
            except RecordingHeld:  # held since the query
                continue
            except (OSError, ValueError) as exc:
                log.error("recording %s: retention could not delete it (%s)", row.id,
                          type(exc).__name__)
                continue
            if done is not None:
                deleted.append(row.id)
                await self.index.audit.write(Access(
                    now, "system:retention", "system", "delete", "ok", 200, row.id,
                    row.interaction_id))
        if deleted:
            log.info("recordings: retention deleted %d", len(deleted))
        return deleted

    async def settled(self) -> None:
        """Wait until every settle under way (from `finish(..., wait=False)`) is done."""
        while self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    async def close(self) -> None:
        """Finish every recording still running, stop settling (what is left is settled at
        the next start), then stop the disk thread."""
        for call_id in list(self.active):
            try:
                await self.finish(call_id)
            except Exception:
                log.exception("call %s: closing its recording failed", call_id)
        if self._resume is not None:
            self._resume.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resume
        for task in list(self._settling):
            task.cancel()
        await asyncio.gather(*self._settling, return_exceptions=True)
        # A file being encoded right now is finished by the thread; its row stays unsettled.
        await asyncio.to_thread(functools.partial(self._pool.shutdown, wait=True,
                                                  cancel_futures=True))
        await asyncio.to_thread(self.writer.stop)
        await self.index.close()
