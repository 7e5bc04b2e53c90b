"""`voicemail`: a beep, the caller's message recorded, transcribed onto the case.

    - voicemail:
        prompt: "Please leave a message after the tone. Press hash when done."
        max_seconds: 120         # default 120
        silence_seconds: 4       # stop after this much silence once the caller spoke
        beep: true               # default true

Recording stops on `#`, on silence, at the maximum length or at hang-up (what was said is
kept). The WAV goes to the voicemail box (the data dir's recordings/); the input is recorded
as `voicemail` {path, seconds, transcript}. Transcripts are never logged.

The message is transcribed once. When the call is being transcribed live (the server's
`TranscribedCalls`, announced to verbs as `services.extra["live_transcripts"]`), the live
transcriber already hears the message as it is spoken and stores it as caller segments with
the call's own times, so the verb adds nothing (`transcript: "live"`). Before, the same words
were stored twice, the recording's copy a little later. Reusing the live transcript rather
than pausing it keeps one path, one set of times and one engine's work; the recording is
only transcribed here when nothing transcribes the call live (`transcript: "recording"`): its
finals become caller segments timed from the interaction's start, with the file fed at the
engine's pace (`write()`, nothing dropped). A sensitive step is not transcribed at all
(`transcript: "none"`; the live transcriber is paused by the call's privacy state).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ivr.media.events import CallInput, Digit, HungUp
from ivr.media.prompt import PromptOutcome, play_prompt
from ivr.media.recorder import Recording, VoicemailBox
from ivr.media.speak import PROMPT_SCHEMA, check_prompt, speak
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, register
from media.asr.junk import is_junk
from media.frames import AudioFrame
from media.player import ToneGenerator

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)

# The key of `Services.extra` under which the server announces live transcription.
LIVE_TRANSCRIPTS = "live_transcripts"


class LiveTranscripts(Protocol):
    """Whether a call's caller audio is being transcribed live (centralita.speech)."""

    def covers(self, call_id: str) -> bool: ...


def transcribed_live(session: IvrSession) -> bool:
    """Whether the live transcriber already hears this call's caller."""
    live = session.services.extra.get(LIVE_TRANSCRIPTS)
    return live is not None and bool(live.covers(session.call.id))


class VoicemailVerb:
    """Record, save, transcribe onto the case."""

    name = "voicemail"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "prompt": PROMPT_SCHEMA,
            "max_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
            "silence_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
            "beep": {"type": "boolean"},
        },
    }

    def falls_through(self, step: Step) -> bool:
        return True

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        if "prompt" in step.params:
            check_prompt(step.params["prompt"], step.at("prompt"), flow.dir, "voicemail",
                         problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        p = step.params
        box = session.services.recorder
        if not isinstance(box, VoicemailBox):
            log.warning("voicemail step %d: no voicemail box on this server", step.index)
            return None
        if "prompt" in p and await speak(p["prompt"], step, session,
                                         interrupt="none") is PromptOutcome.HUNGUP:
            return HANGUP
        if p.get("beep", True):
            beep = ToneGenerator((1000.0,), 8000, level_dbfs=-12.0, duration_ms=400)
            if await play_prompt(session.call, beep, session.clock) is PromptOutcome.HUNGUP:
                return HANGUP
        reader = CallInput.of(session.call)
        reader.clear_digits()
        started = session.services.wall_clock.wall_now()
        with Recording(session.call, max_seconds=float(p.get("max_seconds", 120)),
                       silence_seconds=float(p.get("silence_seconds", 4))) as rec:
            hung_up = await _until_stopped(reader, rec, session)
        pcm = rec.samples()
        seconds = round(len(pcm) / 8000, 2)
        path = await box.save(session.call.id, pcm)
        transcript = ("none" if step.sensitive else
                      "live" if transcribed_live(session) else "recording")
        log.info("voicemail step %d: %.1f s recorded, transcript %s", step.index, seconds,
                 transcript)
        await session.record_input(
            "voicemail", {"path": str(path), "seconds": seconds, "transcript": transcript},
            step=step, sensitive=step.sensitive,
        )
        if transcript == "recording":
            await _transcribe(session, pcm, started)
        return HANGUP if hung_up else None


async def _until_stopped(reader: CallInput, rec: Recording, session: IvrSession) -> bool:
    """Wait for `#`, the recorder's own stop, or hang-up (True)."""
    stop = asyncio.ensure_future(rec.stopped.wait())
    try:
        while True:
            keys = asyncio.ensure_future(reader.next(session.clock, None))
            await asyncio.wait({keys, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not keys.done():
                keys.cancel()
                await asyncio.wait({keys})
                return False
            item = keys.result()
            if isinstance(item, HungUp):
                reader.unread(item)
                return True
            if isinstance(item, Digit) and item.digit == "#":
                return False
    finally:
        stop.cancel()
        await asyncio.wait({stop})


async def _transcribe(session: IvrSession, pcm: Any, started: datetime) -> None:
    """The recording through the ASR service, each final stored as a caller segment."""
    factory, store = session.services.asr, session.services.store
    if not callable(factory) or store is None or len(pcm) == 0:
        return
    found = await store.find_interaction_by_call(session.call.id)
    if found is None:
        log.warning("voicemail: call has no interaction; transcript not stored")
        return
    interaction_id, interaction_start = found
    offset = max(0.0, (started - interaction_start).total_seconds())
    stream = factory(8000)
    # At the engine's pace where the stream offers it (whisper's pooled and stock streams):
    # a long message must not overflow a live stream's bounds and lose its start.
    write = getattr(stream, "write", None)

    async def feed() -> None:
        for i in range(0, len(pcm) - 159, 160):
            frame = AudioFrame(pcm[i : i + 160].copy(), 8000, i)
            if write is not None:
                await write(frame)
            else:
                stream.push_frame(frame)
        stream.end_input()

    feeder = asyncio.ensure_future(feed())
    try:
        async for result in stream:
            if result.is_final and not is_junk(result.text):
                await store.add_segment(
                    interaction_id, speaker="caller", start=offset + result.start,
                    end=offset + max(result.end, result.start), text=result.text,
                    confidence=result.confidence, engine=result.engine,
                )
        await feeder
    finally:
        if not feeder.done():
            feeder.cancel()
        await asyncio.wait({feeder})
        await stream.aclose()


VERB = register(VoicemailVerb())
