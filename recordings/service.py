"""Recording calls, put together: storage, index, the disk thread and one recorder per call.

    recordings = await Recordings.open(FileStorage(root), index, wall=now_utc)
    await recordings.start(call, media, interaction_id=7)   # at answer
    recordings.attach_agent(call.id, agent_media)          # when bridged
    row = await recordings.finish(call.id)                  # at hangup: the completed row

`open()` repairs rows a killed process left 'recording' before anything else is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from recordings.recorder import CallRecorder, PausedSpan, PrivacySource
from recordings.storage import RecordingIndex, RecordingRow, RecordingStorage
from recordings.wavfile import CHANNELS, RATE, DiskWriter, WavStream, sha256_of
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)


class Recordings:
    """Every recording of the process (one `DiskWriter` thread for all of them)."""

    def __init__(
        self, storage: RecordingStorage, index: RecordingIndex, *,
        wall: Callable[[], datetime], writer: DiskWriter | None = None,
    ) -> None:
        self.storage = storage
        self.index = index
        self.wall = wall
        self.writer = writer or DiskWriter()
        self.active: dict[str, tuple[str, str, CallRecorder]] = {}  # call id -> (id, loc, rec)
        self.repaired = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(
        cls, storage: RecordingStorage, index: RecordingIndex, *,
        wall: Callable[[], datetime], writer: DiskWriter | None = None,
    ) -> Recordings:
        self = cls(storage, index, wall=wall, writer=writer)
        self.repaired = await index.repair_interrupted(storage)
        self.writer.start()
        return self

    async def start(
        self, call_id: str, privacy: PrivacySource, caller: LegMedia, *,
        interaction_id: int | None = None,
    ) -> str:
        """Begin recording `call_id` from its caller's leg; returns the recording's id. The
        taps go on first (no audio is lost to the database round trip), then the row."""
        rid = uuid.uuid4().hex
        started = self.wall()
        location, file = await asyncio.to_thread(self.storage.create, rid, started)
        stream = await asyncio.to_thread(WavStream, file)
        recorder = CallRecorder(call_id, privacy, stream, self.writer,
                                on_spans=lambda spans: self._spans(rid, spans))
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

    async def finish(self, call_id: str) -> RecordingRow | None:
        """Close the call's recording and complete its row; None if it was not recorded."""
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
        return await self.index.get(rid)

    async def close(self) -> None:
        """Finish every recording still running, then stop the disk thread."""
        for call_id in list(self.active):
            try:
                await self.finish(call_id)
            except Exception:
                log.exception("call %s: closing its recording failed", call_id)
        await asyncio.to_thread(self.writer.stop)
        await self.index.close()
