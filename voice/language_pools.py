"""Speech recognition in the caller's language: one utterance pool per whisper model.

    pools = LanguagePools(english_pool, multilingual=lambda lang: UtterancePool(engine_for(lang)))
    stream = pools(8000)                                # English (the default), like pool.stream
    stream = pools.bind(lambda: call.language)(8000)    # follows the call's language

English goes to the server's pool (whisper tiny.en by default). Any other language gets its
own pool with a multilingual model (whisper base, `common.languages`), made on first use: its
worker threads start at once and load the model before their first job, so the first Spanish
caller waits for the model once rather than every server paying for it at start.

Each `LanguageStream` cuts utterances with the VAD on the event loop (as `PooledStream` does)
and asks its language source *per utterance*: a flow that switches language mid-call has its
next utterance recognised in the new one. `auto`: the utterance's language is detected first
(faster-whisper's `detect_language` on the multilingual model, restricted to the languages
the server serves) and it is then recognised by that language's pool; every later utterance of
the stream keeps the detected language. Results are `LanguageResult`s: a `TranscriptResult`
that says which language it was recognised in.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from common.languages import AUTO, DEFAULT_LANGUAGE, LANGUAGES
from media.asr.base import RecognitionError, TranscriptResult
from media.vad import Utterance
from voice.utterance_pool import UtterancePool, UtteranceStream

log = logging.getLogger(__name__)

LanguageSource = Callable[[], str | None]


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class LanguageResult(TranscriptResult):
    """A final in `language` (an ISO 639-1 code), detected or as the call said."""

    language: str = DEFAULT_LANGUAGE


def result_language(result: TranscriptResult) -> str | None:
    """The language of a result when its stream knew it (a `LanguageResult`), else None."""
    return result.language if isinstance(result, LanguageResult) else None


def _english() -> str | None:
    return None


class LanguagePools:
    """The pools per language and the streams over them (a stream factory, like
    `UtterancePool.stream`, that also binds to a call's language)."""

    def __init__(
        self,
        english: UtterancePool,
        multilingual: Callable[[str], UtterancePool] | None,
    ) -> None:
        self.english = english
        self._make = multilingual
        self._pools: dict[str, UtterancePool] = {DEFAULT_LANGUAGE: english}
        self._lock = threading.Lock()
        # Detection is one short encoder pass per call (the first utterance): one thread.
        self._detector = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr-detect")
        self.detections = 0

    @property
    def vad(self) -> str:
        return self.english.vad

    def pool_for(self, language: str) -> UtterancePool:
        """The pool that recognises `language`, made (and its model loading) on first use."""
        if language not in LANGUAGES:
            language = DEFAULT_LANGUAGE
        with self._lock:
            pool = self._pools.get(language)
            if pool is None:
                if self._make is None:
                    raise RecognitionError(f"no multilingual model: language {language}")
                pool = self._pools[language] = self._make(language)
                pool.start()
            return pool

    def prepare(self, languages: Iterable[str | None]) -> None:
        """Start loading, in the background, the models the flows' languages need (`auto`:
        the detector's), so their first caller does not wait for a model to load."""
        for code in set(languages):
            if code == AUTO:
                self.detector_pool()
            elif code in LANGUAGES and code != DEFAULT_LANGUAGE:
                self.pool_for(code)

    def detector_pool(self) -> UtterancePool:
        """The multilingual pool whose engine language detection runs on (Spanish's)."""
        return self.pool_for(next(c for c in LANGUAGES if c != DEFAULT_LANGUAGE))

    def detect(self, utt: Utterance, rate: int) -> asyncio.Future[str]:
        """The language of `utt` among the served ones, off the event loop."""
        self.detections += 1
        engine = self.detector_pool().engine
        return asyncio.wrap_future(
            self._detector.submit(engine.detect_language, utt.samples, rate, tuple(LANGUAGES))
        )

    def __call__(self, sample_rate: int, *, hints: tuple[str, ...] = ()) -> LanguageStream:
        """An English stream (the default language), as `UtterancePool.stream`."""
        return LanguageStream(self, sample_rate, _english, hints)

    def bind(
        self,
        language: LanguageSource,
        call_hints: Callable[[], tuple[str, ...]] | None = None,
    ) -> Callable[..., LanguageStream]:
        """A stream factory whose streams follow `language()` (a call's language) and, for
        a stream given no hints of its own, `call_hints()` (the call's `hints:`)."""

        def factory(sample_rate: int, *, hints: tuple[str, ...] = ()) -> LanguageStream:
            return LanguageStream(self, sample_rate, language, hints, call_hints)

        return factory

    def close(self) -> None:
        """Stop every pool made here (the English one belongs to whoever passed it)."""
        self._detector.shutdown(wait=True, cancel_futures=True)
        for code, pool in list(self._pools.items()):
            if code != DEFAULT_LANGUAGE:
                pool.close()


class LanguageStream(UtteranceStream[tuple[str, float | None, str]]):
    """One party's stream in its call's language: VAD here, recognition in the pool of the
    language, finals in utterance order (`LanguageResult`)."""

    def __init__(
        self,
        pools: LanguagePools,
        sample_rate: int,
        language: LanguageSource,
        hints: tuple[str, ...] = (),
        call_hints: Callable[[], tuple[str, ...]] | None = None,
    ) -> None:
        english = pools.english
        super().__init__(sample_rate, english.vad, english.vad_config)
        self.pools = pools
        self.language = language
        self.hints = hints
        self._call_hints = call_hints
        self.detected: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # A call already in another language (or detecting one) starts that pool now, so its
        # model loads while the prompt plays rather than on the caller's first utterance.
        wanted = self._wanted()
        if wanted == AUTO:
            pools.detector_pool()
        elif wanted != DEFAULT_LANGUAGE:
            pools.pool_for(wanted)

    def _wanted(self) -> str:
        code = self.language() or DEFAULT_LANGUAGE
        if code == AUTO:
            return self.detected or AUTO
        return code if code in LANGUAGES else DEFAULT_LANGUAGE

    def _recognise(self, utt: Utterance) -> asyncio.Future[tuple[str, float | None, str] | None]:
        # The language is read now, when the utterance ends: a flow may switch mid-call.
        fut: asyncio.Future[tuple[str, float | None, str] | None] = self._loop.create_future()
        task = asyncio.create_task(
            self._run(utt, self._wanted(), self._loop.time(), fut), name="asr-language"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fut

    def _final(
        self, utt: Utterance, value: tuple[str, float | None, str]
    ) -> TranscriptResult | None:
        text, conf, language = value
        if not text:
            return None
        return LanguageResult(text, True, utt.start, utt.end, conf, "whisper", language)

    async def _run(
        self,
        utt: Utterance,
        language: str,
        priority: float,
        out: asyncio.Future[tuple[str, float | None, str] | None],
    ) -> None:
        try:
            if language == AUTO:
                language = await self.pools.detect(utt, self.sample_rate)
                self.detected = self.detected or language
            pool = self.pools.pool_for(language)
            # A gather's phrases, else the call's (read now: a queue may have added some).
            hints = self.hints or (self._call_hints() if self._call_hints else ())
            heard = await pool.submit(utt, self.sample_rate, priority, hints)
        except asyncio.CancelledError:
            if not out.done():
                out.cancel()
            raise
        except Exception as exc:  # handed to the reader, which re-raises it
            if not out.done():
                out.set_exception(exc)
            return
        if not out.done():
            out.set_result(None if heard is None else (*heard, language))

    async def aclose(self) -> None:
        """Drop utterances not yet recognised; cancel and await their tasks."""
        await super().aclose()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
