"""In-band DTMF through a telephone channel (G.711 + white noise), and talk-off."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from media.dtmf_inband import COLS, KEYS, ROWS, DtmfDetector, InbandDtmfProcessor
from media.frames import AudioFrame, DtmfFrame, EndFrame, Frame
from media.resample import resample
from tests.media.utils import audio_frames, run_processor

_F = npt.NDArray[np.float64]
ALL = "0123456789*#ABCD"
RATE = 8000
PROMPT = Path(__file__).resolve().parents[2] / "media" / "prompts" / "welcome.wav"


def freqs(digit: str) -> tuple[float, float]:
    for i, row in enumerate(KEYS):
        if digit in row:
            return ROWS[i], COLS[row.index(digit)]
    raise KeyError(digit)


def tone(
    digit: str,
    ms: float,
    rng: np.random.Generator,
    dbfs: float = -12.0,
    twist_db: float = 0.0,
    deviation: float = 0.0,
) -> _F:
    """One key: two sines at `dbfs` each (column `twist_db` louder), random phases."""
    t = np.arange(int(RATE * ms / 1000)) / RATE
    amp = 32768 * 10 ** (dbfs / 20)
    fr, fc = freqs(digit)
    low = amp * np.sin(2 * np.pi * fr * (1 + deviation) * t + rng.uniform(0, 2 * np.pi))
    high = np.sin(2 * np.pi * fc * (1 + deviation) * t + rng.uniform(0, 2 * np.pi))
    return low + amp * 10 ** (twist_db / 20) * high


def dial(digits: str, rng: np.random.Generator, on: float = 60, off: float = 60, **kw: float) -> _F:
    parts = [np.zeros(800)]
    for d in digits:
        parts += [tone(d, on, rng, **kw), np.zeros(int(RATE * off / 1000))]
    return np.concatenate(parts)


def channel(
    x: _F, snr_db: float, rng: np.random.Generator, law: str = "ulaw"
) -> npt.NDArray[np.int16]:
    """White noise at `snr_db` below the tones' power, then a G.711 encode/decode."""
    signal_power = np.mean(x[x != 0] ** 2)
    noisy = x + rng.normal(0, np.sqrt(signal_power / 10 ** (snr_db / 10)), len(x))
    pcm = np.clip(np.rint(noisy), -32768, 32767).astype(np.int16)
    if law == "ulaw":
        return ulaw_decode(ulaw_encode(pcm))
    return alaw_decode(alaw_encode(pcm))


def detect(pcm: npt.NDArray[np.int16], chunk: int = 160) -> str:
    det = DtmfDetector()
    events = []
    for i in range(0, len(pcm), chunk):
        events += det.feed(pcm[i : i + chunk])
    events += det.flush()
    return "".join(e.digit for e in events)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("on", "off", "snr"), [(100, 100, 15), (60, 60, 15), (40, 40, 20)])
def test_every_key_once_through_ulaw_and_noise(
    seed: int, on: float, off: float, snr: float
) -> None:
    rng = np.random.default_rng(seed)
    assert detect(channel(dial(ALL, rng, on, off), snr, rng)) == ALL


def test_alaw_quiet_and_odd_chunking() -> None:
    rng = np.random.default_rng(7)
    pcm = channel(dial(ALL, rng, dbfs=-28), 18, rng, law="alaw")
    assert detect(pcm, chunk=97) == ALL


def test_repeated_key_counts_each_press() -> None:
    rng = np.random.default_rng(8)
    assert detect(channel(dial("5555", rng, on=80, off=50), 15, rng)) == "5555"


def test_duration_is_reported() -> None:
    rng = np.random.default_rng(9)
    det = DtmfDetector()
    events = det.feed(channel(dial("7", rng, on=200, off=100), 20, rng))
    assert len(events) == 1 and events[0].digit == "7"
    assert 180 <= events[0].duration_ms <= 220


def test_tolerances() -> None:
    rng = np.random.default_rng(10)
    assert detect(channel(dial(ALL, rng, deviation=0.015), 20, rng)) == ALL
    assert detect(channel(dial(ALL, rng, deviation=-0.015), 20, rng)) == ALL
    assert detect(channel(dial(ALL, rng, deviation=0.035), 20, rng)) == ""
    assert detect(channel(dial(ALL, rng, twist_db=4), 20, rng)) == ALL
    assert detect(channel(dial(ALL, rng, twist_db=-6), 20, rng)) == ALL
    assert detect(channel(dial(ALL, rng, twist_db=-14), 20, rng)) == ""


def test_short_bursts_are_ignored() -> None:
    rng = np.random.default_rng(11)
    assert detect(channel(dial(ALL, rng, on=20, off=60), 30, rng)) == ""


def test_noise_alone_and_a_1khz_tone_give_nothing() -> None:
    rng = np.random.default_rng(12)
    noise = np.clip(rng.normal(0, 4000, RATE * 5), -32768, 32767).astype(np.int16)
    assert detect(ulaw_decode(ulaw_encode(noise))) == ""
    t = np.arange(RATE * 3) / RATE
    assert detect((10000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)) == ""


def test_single_tones_give_nothing() -> None:
    t = np.arange(RATE) / RATE
    for f in ROWS + COLS:
        assert detect((8000 * np.sin(2 * np.pi * f * t)).astype(np.int16)) == ""


def test_speech_and_music_give_nothing() -> None:
    with wave.open(str(PROMPT.with_name("moh.wav"))) as w:
        assert detect(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)) == ""
    with wave.open(str(PROMPT)) as w:
        speech = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert len(speech) > RATE
    loud = np.clip(speech.astype(np.int32) * 3, -32768, 32767).astype(np.int16)
    assert detect(speech) == ""
    assert detect(ulaw_decode(ulaw_encode(loud))) == ""


def test_speech_like_harmonic_voice_gives_nothing() -> None:
    # A buzzy vowel: 100-200 Hz fundamental gliding, harmonics falling off 6 dB/octave,
    # which crosses every row and column frequency along the way.
    t = np.arange(RATE * 3) / RATE
    f0 = 100 + 100 * t / 3
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 30))
    pcm = (6000 * voice / np.max(np.abs(voice))).astype(np.int16)
    assert detect(pcm) == ""


async def test_processor_passes_audio_and_emits_dtmf_frames() -> None:
    rng = np.random.default_rng(13)
    pcm = channel(dial("19#", rng, on=80, off=80), 20, rng)
    frames = audio_frames(pcm)
    out = await run_processor(InbandDtmfProcessor(), [*frames, EndFrame()])
    assert [f for f in out if isinstance(f, AudioFrame)] == frames
    dtmf = [f for f in out if isinstance(f, DtmfFrame)]
    assert [d.digit for d in dtmf] == ["1", "9", "#"]
    assert all(d.source == "inband" and 60 <= d.duration_ms <= 100 for d in dtmf)
    assert isinstance(out[-1], EndFrame)


async def test_processor_flushes_a_press_held_at_end_and_handles_16k() -> None:
    rng = np.random.default_rng(14)
    pcm8 = channel(dial("4", rng, on=200, off=0), 20, rng)
    pcm16 = resample(pcm8, 8000, 16000)
    frames: list[Frame] = [*audio_frames(pcm16, 16000), EndFrame()]
    out = await run_processor(InbandDtmfProcessor(), frames)
    dtmf = [f for f in out if isinstance(f, DtmfFrame)]
    assert [d.digit for d in dtmf] == ["4"]
    assert out.index(dtmf[0]) < out.index(frames[-1])


def test_bank_batches_many_streams_like_feed() -> None:
    """The per-tick batch reports what each stream's own `feed` reports, press by press."""
    from media.dtmf_inband import DtmfEvent, InbandDtmfBank

    rng = np.random.default_rng(7)
    with wave.open(str(PROMPT)) as w:
        speech = np.frombuffer(w.readframes(RATE * 2), dtype=np.int16)
    streams = [
        channel(dial("1234567890*#ABCD", rng), 15, rng),
        channel(dial("5", rng, on=40, off=40, deviation=0.02), 20, rng, law="alaw"),
        channel(dial("73", rng, dbfs=-30.0, twist_db=4.0), 25, rng),
        speech,
        np.zeros(RATE, np.int16),
    ]
    frames = max(len(s) for s in streams) // 160 + 10
    streams = [np.concatenate((s, np.zeros(frames * 160 - len(s), np.int16))) for s in streams]
    bank = InbandDtmfBank()
    dets = [bank.detector() for _ in streams]
    got: list[list[DtmfEvent]] = [[] for _ in streams]
    for f in range(frames):
        for i, s in enumerate(streams):
            bank.push(dets[i], s[f * 160 : (f + 1) * 160], got[i].extend)
        bank.flush()
    for i, s in enumerate(streams):
        ref = DtmfDetector()
        want = [ev for f in range(frames) for ev in ref.feed(s[f * 160 : (f + 1) * 160])]
        assert got[i] == want
    assert "".join(e.digit for e in got[0]) == "1234567890*#ABCD"
    assert [e.digit for e in got[1]] == ["5"]
    assert got[3] == [] and got[4] == []


def test_bank_rows_grow_skip_and_are_reused() -> None:
    """150 legs (past the bank's first 64 rows), legs that miss ticks, legs that end while
    pressing and new legs taking their rows: each still reports what its own `feed` on the
    frames it pushed reports, and a reused row starts from silence."""
    import gc

    from media.dtmf_inband import DtmfEvent, InbandDtmfBank

    rng = np.random.default_rng(11)
    bank = InbandDtmfBank()
    digits = "1234567890*#ABCD"
    streams = [channel(dial(digits[i % 16] + digits[(i * 7) % 16], rng), 20, rng)
               for i in range(150)]
    frames = max(len(s) for s in streams) // 160 + 5
    streams = [np.concatenate((s, np.zeros(frames * 160 - len(s), np.int16))) for s in streams]
    dets = [bank.detector() for _ in streams]
    got: list[list[DtmfEvent]] = [[] for _ in streams]
    pushed: list[list[int]] = [[] for _ in streams]
    for f in range(frames):
        for i, s in enumerate(streams):
            if i % 5 == 1 and f % 3 == 0:
                continue  # this leg got no packet this tick
            bank.push(dets[i], s[f * 160 : (f + 1) * 160], got[i].extend)
            pushed[i].append(f)
        bank.flush()
    for i, s in enumerate(streams):
        ref = DtmfDetector()
        want = [ev for f in pushed[i] for ev in ref.feed(s[f * 160 : (f + 1) * 160])]
        assert got[i] == want, i
    assert "".join(e.digit for e in got[0]) == "11"
    assert "".join(e.digit for e in got[1]) == "28"
    # Legs end in the middle of a press; their rows go back to the bank with a loud block.
    half = len(streams[0]) // 320
    for det in dets[:100]:
        bank.push(det, streams[0][half * 160 : (half + 1) * 160], lambda _: None)
    bank.flush()
    del dets
    gc.collect()
    fresh = [bank.detector() for _ in range(100)]
    assert all(not det._last_block.any() for det in fresh)
    heard: list[DtmfEvent] = []
    for f in range(len(streams[5]) // 160):
        bank.push(fresh[0], streams[5][f * 160 : (f + 1) * 160], heard.extend)
        bank.flush()
    assert "".join(e.digit for e in heard) == "6" + digits[35 % 16]
