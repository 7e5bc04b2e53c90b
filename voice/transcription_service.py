"""The process-wide transcription service the composition root wires in.

    engine = create_engine("whisper")              # loaded once per process, shared by calls
    service = TranscriptionService(store, engine.stream, clock)
    tx = await service.start_call(call.id, caller, sip_leg)   # at answer
    ...
    await service.end_call(tx, outcome="completed")           # at hangup

or, as one awaitable per call that lives until the call ends:

    hook = service.hook()
    await hook(call, sip_leg, caller)

The service owns every live `CallTranscriber`: `close()` (app shutdown) closes them all, so
no per-call task outlives the server (STYLE.md §5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from media.clock import Clock
from voice.leg_media import LegMedia
from voice.transcription import (
    CLOSE_TIMEOUT_S,
    CallTranscriber,
    PrivacySource,
    SegmentCallback,
    StreamFactory,
    TranscriptStore,
)

log = logging.getLogger(__name__)


class EndableCall(Protocol):
    """What the hook needs of a call (voice.call.Call)."""

    @property
    def id(self) -> str: ...

    @property
    def end_cause(self) -> str | None: ...

    async def wait_ended(self) -> None: ...


TranscriptionHook = Callable[[EndableCall, LegMedia, str], Coroutine[Any, Any, None]]


@dataclass
class TranscriptionStats:
    """Totals over every call this service has transcribed (for metrics and the bench)."""

    calls: int = 0
    live_calls: int = 0
    segments_stored: int = 0
    # Every 20 ms frame never recognised: ring overflow plus what the streams shed.
    dropped_frames: int = 0
    # Finals with no speech in them (media.asr.junk), not stored.
    junk_segments: int = 0
    engine_errors: int = 0
    store_errors: int = 0
    close_timeouts: int = 0


class TranscriptionService:
    """Starts and ends per-call transcription against one shared engine and one store."""

    def __init__(
        self,
        store: TranscriptStore,
        stream_factory: StreamFactory,
        clock: Clock,
        *,
        sample_rate: int = 8000,
        on_partial: SegmentCallback | None = None,
        on_final: SegmentCallback | None = None,
        close_timeout: float = CLOSE_TIMEOUT_S,
    ) -> None:
        self.store = store
        self.stream_factory = stream_factory
        self.clock = clock
        self.sample_rate = sample_rate
        self.on_partial = on_partial
        self.on_final = on_final
        self.close_timeout = close_timeout
        self._live: dict[str, CallTranscriber] = {}
        # Each call's answer time until its transcript is complete, last finals included
        # (`answered_at`: metrics time segments from the end of their utterance).
        self._answered: dict[str, float] = {}
        self._done = TranscriptionStats()

    async def start_call(
        self, call_id: str, caller: str, leg: LegMedia, *, speaker: str = "caller",
        direction: str = "inbound", dialed: str | None = None,
        answered_at: float | None = None, privacy: PrivacySource | None = None,
        stream_factory: StreamFactory | None = None,
    ) -> CallTranscriber:
        """Open the call's interaction on the caller's case and start transcribing `leg`.

        Call it when the call is answered (segment times count from `answered_at`, default
        now). Attach the agent's leg later with `tx.attach(agent_leg, "agent")`. With
        `privacy` (the call), every party stops being transcribed while it is paused.
        `stream_factory` overrides the service's for this call (one that follows the call's
        language: voice.language_pools).
        """
        if call_id in self._live:
            raise ValueError(f"call {call_id} is already being transcribed")
        ref = await self.store.start_voice_interaction(
            caller=caller, call_id=call_id, direction=direction, dialed=dialed
        )
        tx = CallTranscriber(
            call_id, ref.interaction_id, self.store, stream_factory or self.stream_factory,
            self.clock,
            self.clock.now() if answered_at is None else answered_at,
            sample_rate=self.sample_rate, on_partial=self.on_partial, on_final=self.on_final,
            close_timeout=self.close_timeout,
        )
        self._live[call_id] = tx
        self._answered[call_id] = tx.answered_at
        self._done.calls += 1
        if privacy is not None:
            tx.follow(privacy)
        tx.attach(leg, speaker)
        return tx

    async def end_call(
        self, tx: CallTranscriber, outcome: str = "completed", summary: str | None = None
    ) -> None:
        """Finish the transcript (last finals, bounded) and close the interaction."""
        if self._live.get(tx.call_id) is tx:
            del self._live[tx.call_id]
        try:
            await tx.close()
        finally:
            if self._live.get(tx.call_id) is None:
                self._answered.pop(tx.call_id, None)
            self._account(tx)
            try:
                await self.store.end_interaction(
                    tx.interaction_id, outcome=outcome, summary=summary
                )
            except Exception as exc:  # the call is over either way; say so, keep going
                log.warning("call %s: interaction not closed (%s)", tx.call_id,
                            type(exc).__name__)

    def hook(self) -> TranscriptionHook:
        """One awaitable per call: start at once, end when the call ends.

        Run it inside the call's handler task (e.g. `asyncio.TaskGroup` next to the IVR), or
        await it in a task the call manager owns; cancelling it still ends the transcript.
        """

        async def transcribe_call(call: EndableCall, leg: LegMedia, caller: str) -> None:
            tx = await self.start_call(call.id, caller, leg)
            try:
                await call.wait_ended()
            finally:
                await self.end_call(tx, outcome=call.end_cause or "ended")

        return transcribe_call

    def answered_at(self, call_id: str) -> float | None:
        """When the call whose transcript is being made was answered (`clock.now()`), until
        its last finals are in; None for any other call."""
        return self._answered.get(call_id)

    def get(self, call_id: str) -> CallTranscriber | None:
        """The live transcriber of a call (to attach the agent's leg when bridged)."""
        return self._live.get(call_id)

    def stats(self) -> TranscriptionStats:
        s = TranscriptionStats(**vars(self._done))
        s.live_calls = len(self._live)
        for tx in self._live.values():
            s.segments_stored += tx.segments_stored
            s.dropped_frames += tx.dropped_frames
            s.junk_segments += tx.junk_segments
            s.engine_errors += tx.engine_errors
            s.store_errors += tx.store_errors
            s.close_timeouts += tx.close_timeouts
        return s

    def _account(self, tx: CallTranscriber) -> None:
        d = self._done
        d.segments_stored += tx.segments_stored
        d.dropped_frames += tx.dropped_frames
        d.junk_segments += tx.junk_segments
        d.engine_errors += tx.engine_errors
        d.store_errors += tx.store_errors
        d.close_timeouts += tx.close_timeouts

    async def close(self) -> None:
        """App shutdown: end every live call's transcript (outcome "shutdown")."""
        # Together: each call's last utterances are recognised concurrently, not in turn.
        await asyncio.gather(
            *(self.end_call(tx, outcome="shutdown") for tx in list(self._live.values()))
        )
