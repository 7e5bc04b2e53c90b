"""Collecting one answer from the caller: keys, speech, or whichever comes first.

Shared by `gather` and `menu`. The recogniser listens from before the prompt starts, so
speech that barges in on the prompt is the answer; the first key press wins over speech
(the recogniser is dropped). When the no-input timeout passes the recogniser is asked to
finish the utterance in progress and given `SPEECH_GRACE_S` to answer.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ivr.language import detected
from ivr.media.dtmf import Collected, DtmfAggregator, DtmfRules, Outcome
from ivr.media.events import CallInput, Digit, HungUp, caller_audio
from ivr.media.phrases import PhraseMatcher
from ivr.media.prompt import PromptOutcome
from ivr.media.speak import speak
from ivr.verbs.base import IvrSession, Step
from media.asr.base import TranscriptResult
from media.clock import settle
from media.frames import AudioFrame
from voice.language_pools import result_language
from voice.transcription import StreamFactory, TranscriptStream, open_stream

# Whisper takes ~0.2–0.9 s of CPU per utterance; a loaded pool may queue it a little more.
SPEECH_GRACE_S = 4.0
INPUTS = ("dtmf", "speech", "both")


class Kind(enum.Enum):
    DTMF = "dtmf"
    SPEECH = "speech"
    TIMEOUT = "timeout"
    HUNGUP = "hungup"


@dataclass(frozen=True)
class Answer:
    """What the caller answered. Digits and text are personal data: masked in the repr."""

    kind: Kind
    digits: str = ""
    dtmf: Collected | None = None
    text: str = ""
    choice: str | None = None
    engine: str | None = None

    @property
    def valid(self) -> bool:
        if self.kind is Kind.DTMF:
            return self.dtmf is not None and self.dtmf.outcome is Outcome.MATCH
        return self.kind is Kind.SPEECH and self.choice is not None

    def __repr__(self) -> str:
        return f"Answer({self.kind.value}, digits=<{len(self.digits)}>, choice={self.choice!r})"


class SpeechListener:
    """A short-lived recognition stream on the caller's audio; `result` holds the first
    non-empty final. Owns its reader task: `aclose()` cancels and awaits it."""

    def __init__(
        self, session: IvrSession, factory: StreamFactory, hints: tuple[str, ...] = ()
    ) -> None:
        self._session = session
        self._leg = caller_audio(session.call)
        self._factory = factory
        self._hints = hints
        self._stream: TranscriptStream | None = None
        self._task: asyncio.Task[None] | None = None
        self.result: asyncio.Future[TranscriptResult] = (
            asyncio.get_running_loop().create_future()
        )
        self._listener: Callable[[AudioFrame], None] = self._push

    @property
    def available(self) -> bool:
        return self._leg is not None

    def start(self) -> None:
        if self._leg is None:
            return
        self._stream = open_stream(self._factory, 8000, self._hints)
        self._leg.add_listener(self._listener)
        self._task = asyncio.create_task(self._read(self._stream), name="ivr-speech")

    def _push(self, frame: AudioFrame) -> None:
        # On the media tick: the stream queues the frame (its VAD costs µs) and returns.
        if self._stream is not None and frame.sample_rate == 8000 and not self.result.done():
            self._stream.push_frame(frame)

    def flush(self) -> None:
        if self._stream is not None and not self.result.done():
            self._stream.flush()

    async def _read(self, stream: TranscriptStream) -> None:
        async for result in stream:
            if result.is_final and result.text.strip() and not self.result.done():
                # `language: auto`: the first answer's language becomes the call's.
                detected(self._session, result_language(result))
                self.result.set_result(result)
                return

    async def aclose(self) -> None:
        if self._leg is not None:
            self._leg.remove_listener(self._listener)
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        if self._stream is not None:
            await self._stream.aclose()
        if not self.result.done():
            self.result.cancel()


async def collect(
    step: Step, session: IvrSession, *, prompt: Any, rules: DtmfRules,
    phrases: PhraseMatcher | None, input_mode: str,
) -> Answer:
    """Play `prompt` (may be None) and take one answer as `input_mode` allows."""
    use_dtmf = input_mode in ("dtmf", "both")
    factory = session.services.asr
    listener = (
        SpeechListener(session, factory, phrases.hints)
        if input_mode in ("speech", "both") and phrases is not None and callable(factory)
        else None
    )
    if listener is not None:
        listener.start()
    try:
        if prompt is not None:
            interrupt = {"dtmf": "dtmf", "speech": "speech", "both": "any"}[input_mode]
            if await speak(prompt, step, session, interrupt=interrupt) is PromptOutcome.HUNGUP:
                return Answer(Kind.HUNGUP)
        return await _wait_answer(session, rules, phrases, listener, use_dtmf)
    finally:
        if listener is not None:
            await listener.aclose()


async def _wait_answer(
    session: IvrSession, rules: DtmfRules, phrases: PhraseMatcher | None,
    listener: SpeechListener | None, use_dtmf: bool,
) -> Answer:
    reader = CallInput.of(session.call)
    agg = DtmfAggregator(rules)
    speech = listener.result if listener is not None and listener.available else None
    while True:
        keys = asyncio.ensure_future(reader.next(session.clock, agg.deadline()))
        waiters: set[asyncio.Future[Any]] = {keys}
        if speech is not None:
            waiters.add(speech)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not keys.done():
            # Speech answered first. Cancelling the read loses nothing: CallInput keeps it.
            keys.cancel()
            await asyncio.wait({keys})
            assert speech is not None
            return _speech_answer(speech.result(), phrases)
        item = keys.result()
        if isinstance(item, HungUp):
            return Answer(Kind.HUNGUP)
        if isinstance(item, Digit):
            if not use_dtmf:
                continue
            speech = None  # a key press means the caller chose the keypad
            done = agg.press(item.digit)
        else:
            if speech is not None and not agg.digits:
                return await _last_chance(session, listener, phrases)
            done = agg.expire()
        if done is not None:
            if done.outcome is Outcome.TIMEOUT:
                return Answer(Kind.TIMEOUT, dtmf=done)
            return Answer(Kind.DTMF, digits=done.digits, dtmf=done)


async def _last_chance(
    session: IvrSession, listener: SpeechListener | None, phrases: PhraseMatcher | None
) -> Answer:
    """No key and no final by the timeout: finish the utterance in progress, if any."""
    assert listener is not None
    listener.flush()
    expired: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    handle = session.clock.call_later(SPEECH_GRACE_S, settle, expired)
    try:
        waiters: set[asyncio.Future[Any]] = {listener.result, expired}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        handle.cancel()
    if listener.result.done() and not listener.result.cancelled():
        return _speech_answer(listener.result.result(), phrases)
    return Answer(Kind.TIMEOUT)


def _speech_answer(result: TranscriptResult, phrases: PhraseMatcher | None) -> Answer:
    choice = phrases.match(result.text) if phrases is not None else None
    return Answer(Kind.SPEECH, text=result.text, choice=choice, engine=result.engine)
