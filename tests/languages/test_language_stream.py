"""`LanguageStream` without models: each utterance goes to the pool of the language its call
is in when the utterance ends (a flow that switches mid-call), `auto` detects once and keeps
it, results come back in utterance order with their language, and the backlog rule drops the
oldest utterance and counts its frames."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from media.asr.base import TranscriptResult
from media.frames import AudioFrame
from media.vad import Utterance, VadConfig
from voice.language_pools import LanguagePools, result_language
from voice.utterance_pool import MAX_PENDING_UTTERANCES

RATE = 8000


class ScriptedPool:
    """Answers "<language><n>" for the n-th utterance it is given."""

    vad = "webrtc"
    vad_config = VadConfig(hangover_ms=300)

    def __init__(self, language: str) -> None:
        self.language = language
        self.submitted = 0
        self.started = False

    def start(self) -> None:
        self.started = True

    def submit(self, utt: Utterance, rate: int, priority: float,
               hints: tuple[str, ...] = ()) -> asyncio.Future[Any]:
        self.submitted += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_result((f"{self.language}{self.submitted}", 0.9))
        return fut

    def close(self) -> None: ...


class ScriptedPools(LanguagePools):
    def __init__(self, detected: str = "es") -> None:
        super().__init__(ScriptedPool("en"), lambda code: ScriptedPool(code))  # type: ignore[arg-type,return-value]
        self.answer = detected

    def detect(self, utt: Utterance, rate: int) -> asyncio.Future[str]:
        self.detections += 1
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        fut.set_result(self.answer)
        return fut


def burst(n: int) -> list[AudioFrame]:
    rng = np.random.default_rng(n)
    loud = rng.normal(0, 6000, int(0.4 * RATE)).clip(-32768, 32767).astype(np.int16)
    pcm = np.concatenate([loud, np.zeros(int(0.6 * RATE), np.int16)])
    return [AudioFrame(pcm[i : i + 160], RATE, i) for i in range(0, len(pcm), 160)]


async def results(stream: Any) -> list[tuple[str, str | None]]:
    stream.end_input()
    out: list[TranscriptResult] = [r async for r in stream]
    return [(r.text, result_language(r)) for r in out]


async def test_each_utterance_follows_the_calls_language_at_the_time() -> None:
    pools = ScriptedPools()
    language = {"now": "es"}
    stream = pools.bind(lambda: language["now"])(RATE)
    assert pools._pools["es"].started  # type: ignore[attr-defined]  # loading at stream start
    for n, code in enumerate(("es", "en", "es")):
        language["now"] = code
        for frame in burst(n):
            stream.push_frame(frame)
    assert await results(stream) == [("es1", "es"), ("en1", "en"), ("es2", "es")]
    pools.close()


async def test_auto_detects_on_the_first_utterance_and_keeps_it() -> None:
    pools = ScriptedPools(detected="es")
    stream = pools.bind(lambda: "auto")(RATE)
    for n in range(3):
        for frame in burst(n):
            stream.push_frame(frame)
        await asyncio.sleep(0)  # the first detection lands before the next utterance ends
    assert await results(stream) == [("es1", "es"), ("es2", "es"), ("es3", "es")]
    assert pools.detections == 1 and stream.detected == "es"
    pools.close()


async def test_the_default_stream_is_english_and_sheds_the_oldest() -> None:
    pools = ScriptedPools()
    stream = pools(RATE)
    frames = 0
    for n in range(MAX_PENDING_UTTERANCES + 2):
        for frame in burst(n):
            stream.push_frame(frame)
            frames += 1
    assert stream.dropped_finals == 2 and stream.dropped_frames > 0
    got = await results(stream)
    assert len(got) == MAX_PENDING_UTTERANCES and {lang for _, lang in got} == {"en"}
    await stream.aclose()
    pools.close()
