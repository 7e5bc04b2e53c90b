"""Recognition per language on real models: espeak-ng Spanish and English through 8 kHz,
English by the server's tiny.en pool, Spanish by whisper base (the multilingual wheels), and
`auto` detecting each caller's language on their first utterance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media.asr.whisper import WhisperEngine
from media.frames import AudioFrame, Pcm
from tests.speech.audio import have_tools, speak
from voice.language_pools import LanguagePools, result_language
from voice.utterance_pool import UtterancePool

pytestmark = pytest.mark.slow
RATE = 8000


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> LanguagePools:
    if not have_tools():
        pytest.fail("espeak-ng and sox are needed (scripts/setup.sh installs them)")
    cache = tmp_path_factory.mktemp("models")
    english = UtterancePool(WhisperEngine("tiny.en"), workers=1)
    english.load()

    def multilingual(language: str) -> UtterancePool:
        return UtterancePool(WhisperEngine("base", cache_dir=cache, language=language),
                             workers=1)

    made = LanguagePools(english, multilingual)
    yield made  # type: ignore[misc]
    made.close()
    english.close()


async def hear(pools: LanguagePools, pcm: Pcm, language: str | None) -> list[tuple[str, str]]:
    stream = pools.bind(lambda: language)(RATE)
    padded = np.concatenate([np.zeros(RATE // 2, np.int16), pcm, np.zeros(RATE, np.int16)])
    for i in range(0, len(padded) - 159, 160):
        stream.push_frame(AudioFrame(padded[i : i + 160], RATE, i))
    stream.end_input()
    out = [(r.text.lower(), result_language(r) or "?") async for r in stream]
    await stream.aclose()
    return out


SPANISH = "quiero hablar de facturación"
ENGLISH = "I have a question about my bill"


async def test_spanish_goes_to_base_in_spanish(pools: LanguagePools) -> None:
    heard = await hear(pools, speak(SPANISH, RATE, voice="es", speed=130), "es")
    assert heard and all(lang == "es" for _, lang in heard), heard
    assert "facturación" in " ".join(t for t, _ in heard), heard


async def test_auto_detects_each_callers_language(pools: LanguagePools) -> None:
    es = await hear(pools, speak(SPANISH, RATE, voice="es", speed=130), "auto")
    en = await hear(pools, speak(ENGLISH, RATE, voice="en-us", speed=150), "auto")
    assert [lang for _, lang in es] == ["es"], es
    assert [lang for _, lang in en] == ["en"], en
    assert "bill" in en[0][0], en
    assert pools.detections == 2


def test_english_stays_on_the_default_pool(pools: LanguagePools, tmp_path: Path) -> None:
    assert pools.pool_for("en") is pools.english
    assert pools.pool_for("es") is not pools.english
