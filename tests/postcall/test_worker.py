"""The post-call worker on real human speech (pocketsphinx-testdata, the 40 s passage) in a
stereo 8 kHz recording: each channel is its party, the transcript is near word for word,
and a paused span is never transcribed, even when its audio was not silenced."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from media.asr.wer import normalize, wer
from recordings.postcall_worker import PassRequest, PostSegment, run, speech_regions
from tests.speech.passage import passage


def stereo(path: Path, left: np.ndarray, right: np.ndarray) -> Path:
    frames = np.zeros((max(len(left), len(right)), 2), np.int16)
    frames[: len(left), 0] = left
    frames[: len(right), 1] = right
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames.tobytes())
    return path


def test_speech_regions_leave_out_paused_spans() -> None:
    assert speech_regions(10.0, ()) == [(0.0, 10.0)]
    assert speech_regions(10.0, ((2.0, 3.0), (2.5, 4.0), (9.9, 12.0))) == [
        (0.0, 2.0), (4.0, 9.9)]
    assert speech_regions(5.0, ((0.0, 5.0),)) == []


def test_each_party_is_transcribed_and_a_paused_span_is_not(tmp_path: Path) -> None:
    p = passage(8000)
    pcm = p.pcm.astype(np.int16)
    cut = int(26.0 * 8000)  # the caller reads the book, the agent the cards
    caller = pcm.copy()
    caller[cut:] = 0
    agent = np.zeros_like(pcm)
    agent[cut:] = pcm[cut:]
    path = stereo(tmp_path / "call.wav", caller, agent)
    book = [s for s in p.sentences if s.start < 26.0]
    secret = book[2]  # "unless to be rather cold hearted ..." said while paused
    paused = (secret.start - 0.4, secret.end + 0.4)
    found: list[PostSegment] = []
    figures = run(PassRequest(path=str(path), model="tiny.en", language="en",
                              paused=(paused,), priority="nice", nice=0), found.append)

    assert figures.audio_s == len(pcm) / 8000 * 2
    assert {s.speaker for s in found} == {"caller", "agent"}
    for seg in found:
        assert seg.end <= paused[0] or seg.start >= paused[1], seg
    said = {w for s in found if s.speaker == "caller" for w in normalize(s.text)}
    assert not said & {"cold", "hearted", "selfish", "unless"}, said
    shown = [s for s in book if s is not secret]
    caller_text = " ".join(s.text for s in found if s.speaker == "caller")
    assert wer([" ".join(s.reference for s in shown)], [caller_text]) <= 0.08
    cards = " ".join(s.reference for s in p.sentences if s.start >= 26.0)
    agent_text = " ".join(s.text for s in found if s.speaker == "agent")
    assert wer([cards], [agent_text]) <= 0.25
    # Times are the recording's: the agent's first words come after the cut.
    assert min(s.start for s in found if s.speaker == "agent") >= 26.0
