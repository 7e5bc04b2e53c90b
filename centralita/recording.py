"""Recording every answered call, wired into the server (config `recordings: {enabled: true}`).

Off by default: a recording is personal data and in many places needs the caller told
first; the project does not announce recording yet (per-flow announcements and a per-queue
setting come with issue 11's consent step), so an operator switches it on knowingly.

`RecordedCalls` wraps the call handler: the recorder starts at answer on the caller's leg and
closes at hangup; `agent_recording` is the ACD's bridged hook that puts the agent's leg on
the right channel; `chain_bridged` runs several bridged hooks (transcription and recording).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from centralita.beside import run_beside
from centralita.call_cases import CallInteractions
from recordings.service import Recordings
from recordings.storage import FileStorage, RecordingIndex
from voice.call import Call, CallState

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]
BridgedHook = Callable[[Call, Call], Awaitable[None]]


def now_utc() -> datetime:
    """The wall clock recordings are filed and indexed by (the composition root's)."""
    return datetime.now(UTC)


async def open_recordings(data_dir: Path, database_url: str) -> Recordings:
    """Recordings under DATA_DIR/recordings, indexed in the case database; rows a killed
    process left 'recording' are repaired first."""
    index = await RecordingIndex.open(database_url)
    return await Recordings.open(FileStorage(data_dir / "recordings"), index, wall=now_utc)


class RecordedCalls:
    """Wraps a call handler: each answered call is recorded until it ends."""

    def __init__(self, inner: CallHandler, recordings: Recordings,
                 interactions: CallInteractions | None = None) -> None:
        self.inner = inner
        self.recordings = recordings
        self.interactions = interactions

    async def __call__(self, call: Call) -> None:
        if call.media() is None:
            await self.inner(call)
            return
        await run_beside(call, self.inner, self._record(call), "recording")

    async def _record(self, call: Call) -> None:
        if not await call.wait_answered():
            return
        media = call.media()
        if media is None or call.state is CallState.ENDED:
            return
        interaction_id: int | None = None
        started = False
        try:
            await self.recordings.start(call.id, call, media)
            started = True
            if self.interactions is not None:
                with contextlib.suppress(Exception):
                    ref = await self.interactions.for_call(call)
                    interaction_id = ref.interaction_id
                    await self.recordings.set_interaction(call.id, interaction_id)
            await call.wait_ended()
        finally:
            if started:
                await self.recordings.finish(call.id)


def agent_recording(recordings: Recordings) -> BridgedHook:
    """The agent's leg onto the right channel of the caller's recording, once bridged."""

    async def attach(caller: Call, agent_call: Call) -> None:
        media = agent_call.media()
        if media is not None:
            recordings.attach_agent(caller.id, media)

    return attach


def chain_bridged(*hooks: BridgedHook | None) -> BridgedHook | None:
    """One bridged hook running each given one in turn (a failing one does not stop the
    next); None when none is given."""
    present = [h for h in hooks if h is not None]
    if not present:
        return None

    async def run(caller: Call, agent_call: Call) -> None:
        for hook in present:
            try:
                await hook(caller, agent_call)
            except Exception:
                log.exception("call %s: a bridged hook failed", caller.id)

    return run
