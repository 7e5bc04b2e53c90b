"""VAD: segmentation logic with a scripted detector, then both detectors on real audio."""

from __future__ import annotations

import numpy as np
import pytest

from media.frames import AudioFrame, EndFrame, Frame, Pcm
from media.pipeline import Pipeline
from media.vad import (
    SpeechStarted,
    SpeechStartedFrame,
    Utterance,
    UtteranceFrame,
    UtteranceSegmenter,
    VadConfig,
    VadProcessor,
    make_detector,
)
from tests.speech.audio import have_tools, silence, speak, speech_bounds, white_noise

RATE = 8000
FRAME = 160


class ScriptedDetector:
    """Says speech for exactly the frames whose first sample is non-zero."""

    sample_rate = RATE
    frame_ms = 20

    def speech_probability(self, pcm: Pcm) -> float:
        return 1.0 if pcm[0] != 0 else 0.0

    def reset(self) -> None:
        pass


def pattern(*spans: tuple[int, int]) -> Pcm:
    """Frames of silence/speech: spans of (speech frames, silence frames)."""
    out = []
    for speech, quiet in spans:
        out += [np.full(FRAME * speech, 1000, np.int16), np.zeros(FRAME * quiet, np.int16)]
    return np.concatenate(out)


def utterances(events: list[SpeechStarted | Utterance]) -> list[Utterance]:
    return [e for e in events if isinstance(e, Utterance)]


def test_start_needs_a_run_and_pre_roll_is_kept() -> None:
    cfg = VadConfig(start_ms=60, hangover_ms=200, pre_roll_ms=100)
    seg = UtteranceSegmenter(ScriptedDetector(), cfg)
    # 20 silent frames, a 2-frame click (too short), 10 silent, then 25 speech frames.
    sig = np.concatenate([np.zeros(FRAME * 20, np.int16), pattern((2, 10), (25, 30))])
    events = seg.push(sig)
    assert [type(e) for e in events] == [SpeechStarted, Utterance]
    (utt,) = utterances(events)
    assert utt.start == pytest.approx(32 * 0.02)
    assert utt.end == pytest.approx(57 * 0.02)
    assert utt.audio_start == pytest.approx(utt.start - 0.1)
    # pre-roll + speech + as much trailing context as pre-roll
    assert utt.duration == pytest.approx(0.1 + 25 * 0.02 + 0.1)


def test_pauses_shorter_than_hangover_do_not_split() -> None:
    seg = UtteranceSegmenter(ScriptedDetector(), VadConfig(hangover_ms=200))
    events = seg.push(pattern((10, 9), (10, 9), (10, 10), (10, 30)))
    starts = [round(u.start, 2) for u in utterances(events)]
    assert starts == [0.0, 1.16]


def test_chunking_does_not_change_the_result() -> None:
    sig = pattern((5, 3), (30, 40), (12, 20))
    whole = UtteranceSegmenter(ScriptedDetector()).push(sig)
    seg = UtteranceSegmenter(ScriptedDetector())
    pieces: list[SpeechStarted | Utterance] = []
    for i in range(0, len(sig), 97):  # odd chunk size straddles frames
        pieces += seg.push(sig[i : i + 97])
    assert [(type(e), getattr(e, "start", None)) for e in pieces] == [
        (type(e), getattr(e, "start", None)) for e in whole
    ]
    assert all(
        np.array_equal(a.samples, b.samples)
        for a, b in zip(utterances(pieces), utterances(whole), strict=True)
    )


def test_long_speech_is_cut_at_max_and_continues() -> None:
    seg = UtteranceSegmenter(ScriptedDetector(), VadConfig(max_utterance_ms=1000))
    events = seg.push(pattern((120, 40)))
    utts = utterances(events)
    assert [u.forced for u in utts] == [True, True, False]
    assert sum(isinstance(e, SpeechStarted) for e in events) == 3
    assert utts[1].start == pytest.approx(utts[0].end)


def test_flush_closes_open_utterance() -> None:
    seg = UtteranceSegmenter(ScriptedDetector())
    assert utterances(seg.push(pattern((20, 0)))) == []
    (utt,) = utterances(seg.flush())
    assert utt.end == pytest.approx(20 * 0.02 + 0.0, abs=1e-9)
    assert seg.flush() == []


async def test_processor_passes_audio_and_emits_events_in_order() -> None:
    out: list[Frame] = []
    vad = VadProcessor(lambda rate: ScriptedDetector())
    pipe = Pipeline([vad], sink=out.append)
    sig = pattern((30, 10))
    for i in range(0, len(sig), FRAME):
        await pipe.queue_frame(AudioFrame(sig[i : i + FRAME], RATE, i))
    await pipe.queue_frame(EndFrame())
    kinds = [type(f).__name__ for f in out]
    assert kinds.count("AudioFrame") == 40
    assert kinds[-2:] == ["UtteranceFrame", "EndFrame"]
    # The start event follows the audio frame that completed the start run (3rd speech frame).
    assert kinds.index("SpeechStartedFrame") == 3
    started = next(f for f in out if isinstance(f, SpeechStartedFrame))
    utt = next(f for f in out if isinstance(f, UtteranceFrame)).utterance
    assert started.start == 0.0 and utt.end == pytest.approx(0.6)


# --- real audio -----------------------------------------------------------------------------

needs_tools = pytest.mark.skipif(not have_tools(), reason="espeak-ng and sox are required")
TEXTS = [
    "Thank you for calling, how can I help you today",
    "I would like to check my order status please",
    "My account number is four five six seven",
]


def spoken_with_gaps(rate: int) -> tuple[Pcm, list[tuple[float, float]]]:
    """Three espeak-ng sentences between 1.5 s silences, and where their speech really is."""
    parts = [silence(1.0, rate)]
    truth = []
    offset = 1.0
    for text in TEXTS:
        pcm = speak(text, rate)
        s, e = speech_bounds(pcm, rate)
        truth.append((offset + s, offset + e))
        parts += [pcm, silence(1.5, rate)]
        offset += len(pcm) / rate + 1.5
    return np.concatenate(parts), truth


@needs_tools
@pytest.mark.parametrize("kind", ["webrtc", "silero"])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_espeak_utterance_boundaries(kind: str, rate: int) -> None:
    if kind == "silero":
        pytest.importorskip("onnxruntime")
        _require_silero()
    sig, truth = spoken_with_gaps(rate)
    seg = UtteranceSegmenter(make_detector(kind, rate))
    step = rate // 50
    events: list[SpeechStarted | Utterance] = []
    for i in range(0, len(sig), step):
        events += seg.push(sig[i : i + step])
    utts = utterances(events + seg.flush())
    assert len(utts) == len(truth)
    for utt, (start, end) in zip(utts, truth, strict=True):
        assert abs(utt.start - start) <= 0.1
        # Both detectors hold on ~100-130 ms into the decaying tail of the last word.
        assert -0.1 <= utt.end - end <= 0.15


def _require_silero() -> None:
    from media.vad import silero_model_path

    try:
        silero_model_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@needs_tools
@pytest.mark.parametrize("rate", [8000, 16000])
def test_silero_rejects_white_noise_where_webrtc_does_not(rate: int) -> None:
    pytest.importorskip("onnxruntime")
    _require_silero()
    noise = white_noise(4.0, rate, dbfs=-20.0)
    step = rate // 50
    flagged = {}
    for kind in ("webrtc", "silero"):
        det = make_detector(kind, rate)
        scores = [det.speech_probability(noise[i : i + step]) for i in range(0, len(noise), step)]
        flagged[kind] = float(np.mean(np.array(scores) >= 0.5))
        utts = utterances(
            UtteranceSegmenter(make_detector(kind, rate)).push(noise)
        )
        if kind == "silero":
            assert utts == []
    assert flagged["webrtc"] >= 0.9
    assert flagged["silero"] <= 0.02
