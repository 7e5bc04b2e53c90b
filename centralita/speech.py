"""Speech on every call, put together: engine, shared utterance pool, transcription service,
and the call-handler wrapper that transcribes each answered call onto the caller's case.

Whisper (the default) runs through one `UtterancePool` for the whole process, so concurrent
calls share two decoding threads and one loaded model; vosk and pocketsphinx stream per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from centralita.beside import run_beside
from common.languages import LANGUAGES
from media.asr.base import RecognizerEngine
from media.asr.factory import create_engine
from media.asr.whisper import WhisperEngine
from media.clock import Clock
from voice.call import Call, Direction
from voice.language_pools import LanguagePools
from voice.leg_media import LegMedia
from voice.transcription import StreamFactory, TranscriptStore
from voice.transcription_service import TranscriptionService
from voice.utterance_pool import UtterancePool

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]
ENGINES = ("whisper", "vosk", "pocketsphinx", "off")


@dataclass
class SpeechStack:
    service: TranscriptionService
    engine: RecognizerEngine
    pool: UtterancePool | None
    factory: StreamFactory
    # Whisper: the pools per language (English on `pool`); streams follow a call's language.
    languages: LanguagePools | None = None

    def covers(self, call_id: str) -> bool:
        """Whether `call_id`'s caller is being transcribed live right now: IVR verbs that
        would transcribe the caller's audio themselves (voicemail) reuse the live transcript
        instead (ivr.verbs.voicemail.LiveTranscripts)."""
        return self.service.get(call_id) is not None

    async def close(self) -> None:
        await self.service.close()
        # Both join worker threads: off the event loop.
        loop = asyncio.get_running_loop()
        if self.languages is not None:
            await loop.run_in_executor(None, self.languages.close)
        if self.pool is not None:
            await loop.run_in_executor(None, self.pool.close)
        await loop.run_in_executor(None, self.engine.close)


async def build_speech(
    engine_name: str, model: str | None, vad: str, data_dir: Path,
    store: TranscriptStore, clock: Clock,
) -> SpeechStack:
    """Load the engine (off the event loop) and the service around it.

    Segments reach live viewers through the case store, which publishes each one on the
    event bus once it is committed.
    """
    engine = create_engine(engine_name, model=model, data_dir=data_dir, vad=vad)
    pool: UtterancePool | None = None
    factory: StreamFactory
    if engine_name == "whisper":
        assert isinstance(engine, WhisperEngine)
        pool = UtterancePool(engine)
        await asyncio.get_running_loop().run_in_executor(None, pool.load)
        languages = LanguagePools(pool, multilingual_pools(engine, data_dir))
        return SpeechStack(TranscriptionService(store, languages, clock), engine, pool,
                           languages, languages)
    factory = engine.stream
    return SpeechStack(TranscriptionService(store, factory, clock), engine, pool, factory)


def multilingual_pools(
    engine: WhisperEngine, data_dir: Path
) -> Callable[[str], UtterancePool]:
    """How a language other than English gets its pool: whisper base (common.languages) in
    that language, joined into `data_dir/models` on first use; or, when the server's own
    model is already multilingual, that model."""

    def make(language: str) -> UtterancePool:
        name = engine.model_name if engine.model_name != "tiny.en" else (
            LANGUAGES[language].whisper_model)
        return UtterancePool(WhisperEngine(name, cache_dir=data_dir / "models",
                                           language=language, vad=engine.vad))

    return make


class TranscribedCalls:
    """Wraps a call handler: once the call is answered, its caller's audio is transcribed
    onto the case of the caller's number until the call ends, except while the call's
    privacy is paused (`voice.call.Privacy`)."""

    def __init__(
        self, inner: CallHandler, service: TranscriptionService,
        languages: LanguagePools | None = None,
    ) -> None:
        self.inner = inner
        self.service = service
        # Whisper: each call's streams follow the language its flow sets (`call.language`).
        self.languages = languages

    async def __call__(self, call: Call) -> None:
        media = call.media()
        if media is None:
            await self.inner(call)
            return
        # Once the handler is done the transcript finishes its last finals, bounded by the
        # service's close timeout.
        await run_beside(call, self.inner, self._transcribe(call, media), "transcription")

    async def _transcribe(self, call: Call, media: LegMedia) -> None:
        if not await call.wait_answered():
            return
        # Taken before the interaction is opened (a database round trip): segment times, and
        # the privacy gaps on the case (centralita.call_cases), count from the answer itself.
        answered_at = self.service.clock.now()
        outbound = call.direction is Direction.OUTBOUND
        tx = await self.service.start_call(
            call.id, call.caller, media,
            direction=call.direction.value,
            dialed=call.dialed if outbound else (call.dialed or None),
            answered_at=answered_at, privacy=call,
            stream_factory=(self.languages.bind(lambda: call.language, lambda: call.hints)
                            if self.languages is not None else None),
        )
        try:
            await call.wait_ended()
        finally:
            with contextlib.suppress(Exception):
                await self.service.end_call(tx, outcome=call.end_cause or "completed")
