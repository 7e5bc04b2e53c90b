"""Playing a prompt that the caller may interrupt (barge-in).

    outcome = await play_prompt(call, source, clock, interrupt="any")

`interrupt` is `dtmf`, `speech`, `any` or `none`. A key press stops the prompt at once (the
source is interrupted, so the leg's very next tick plays nothing of it) and is handed back to
the call's `CallInput`, so the `gather` that follows sees it as its first digit. Speech is
heard by a VAD on the caller's audio: a listener on the leg's 20 ms tick that costs a few µs
(webrtcvad) and only sets a flag the waiting coroutine picks up.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from typing import Any, Protocol

from ivr.media.events import CallInput, Digit, HungUp, caller_audio
from media.clock import Clock
from media.frames import AudioFrame
from media.player import AudioSource
from media.vad import make_detector
from voice.call import Call

INTERRUPTS = ("dtmf", "speech", "any", "none")
# Speech must last this long to cut a prompt: a cough or a click must not.
BARGE_IN_SPEECH_MS = 200


class Interruptible(AudioSource, Protocol):
    def interrupt(self) -> None: ...


class PromptOutcome(enum.Enum):
    PLAYED = "played"  # the prompt ran to its end
    DTMF = "dtmf"  # a key press cut it (the key is waiting in CallInput)
    SPEECH = "speech"  # the caller spoke over it
    HUNGUP = "hungup"


class SpeechWatcher:
    """Sets `heard` once the caller has spoken for `min_ms` (VAD on the leg's audio)."""

    def __init__(self, call: Call, min_ms: int = BARGE_IN_SPEECH_MS, vad: str = "webrtc") -> None:
        self.heard = asyncio.Event()
        self._leg = caller_audio(call)
        self._need = max(1, min_ms // 20)
        self._run = 0
        self._detector = make_detector(vad, 8000) if self._leg is not None else None
        self._listener: Callable[[AudioFrame], None] = self._on_frame

    def __enter__(self) -> SpeechWatcher:
        if self._leg is not None:
            self._leg.add_listener(self._listener)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._leg is not None:
            self._leg.remove_listener(self._listener)

    def _on_frame(self, frame: AudioFrame) -> None:
        # On the media tick: one VAD decision and a counter, nothing that can block.
        if self._detector is None or frame.sample_rate != 8000 or self.heard.is_set():
            return
        if self._detector.speech_probability(frame.samples) >= 0.5:
            self._run += 1
            if self._run >= self._need:
                self.heard.set()
        else:
            self._run = 0


async def play_prompt(
    call: Call, source: Interruptible, clock: Clock, *, interrupt: str = "none"
) -> PromptOutcome:
    """Play `source` to the caller until it ends, is barged in on, or the call ends."""
    if interrupt not in INTERRUPTS:
        raise ValueError(f"interrupt must be one of {', '.join(INTERRUPTS)}")
    reader = CallInput.of(call)
    by_dtmf = interrupt in ("dtmf", "any")
    by_speech = interrupt in ("speech", "any")
    played = call.play(source)
    with SpeechWatcher(call) if by_speech else _NoWatcher() as watcher:
        keys = asyncio.ensure_future(_watch_keys(reader, clock, by_dtmf))
        speech = asyncio.ensure_future(watcher.heard.wait())
        waiters: set[asyncio.Future[Any]] = {played, keys, speech}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (keys, speech):
                task.cancel()
            await asyncio.wait({keys, speech})
    if played.done():
        return PromptOutcome.PLAYED
    # Cut short: the next tick finds the source finished and plays silence.
    source.interrupt()
    if not keys.cancelled() and keys.done():
        return keys.result()
    return PromptOutcome.SPEECH


async def _watch_keys(reader: CallInput, clock: Clock, barge: bool) -> PromptOutcome:
    """Return once a key press (when `barge`) or hang-up should stop the prompt."""
    while True:
        item = await reader.next(clock, None)
        if isinstance(item, HungUp):
            reader.unread(item)
            return PromptOutcome.HUNGUP
        if isinstance(item, Digit):
            # Handed back either way: without barge-in it is type-ahead for the next gather.
            if barge:
                reader.unread(item)
                return PromptOutcome.DTMF
            reader.unread(item)
            # Without barge-in keys just wait; stop reading until hang-up is possible to see.
            await _until_hangup(reader, clock)
            return PromptOutcome.HUNGUP


async def _until_hangup(reader: CallInput, clock: Clock) -> None:
    await reader.call.wait_ended()


class _NoWatcher:
    heard = asyncio.Event()

    def __enter__(self) -> _NoWatcher:
        self.heard = asyncio.Event()
        return self

    def __exit__(self, *exc: object) -> None:
        return None
