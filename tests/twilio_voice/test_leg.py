"""TwilioStreamLeg on fakes: paced frames out, a mark after a prompt and `on_done` only when
Twilio echoes it, `clear` when a prompt is cut, digits to the call's DTMF path, audio in."""

from __future__ import annotations

import json

import numpy as np

from media.codecs.g711 import ulaw_encode
from media.frames import AudioFrame
from media.player import Player, ToneGenerator
from voice.twilio.leg import MARK_WAIT_TICKS, TwilioStreamLeg

MZ = "MZ" + "1" * 32


class Wire:
    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    def __call__(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def events(self) -> list[str]:
        return [str(m["event"]) for m in self.sent]


def prompt(frames: int) -> Player:
    samples = (np.arange(160 * frames) % 200 * 50).astype(np.int16)
    samples.flags.writeable = False
    return Player(samples, 8000)


def leg() -> tuple[TwilioStreamLeg, Wire]:
    wire = Wire()
    return TwilioStreamLeg(MZ, wire, lambda: 0.0), wire


def test_a_prompt_is_paced_then_marked_and_done_when_heard() -> None:
    media, wire = leg()
    done: list[str] = []
    media.play(prompt(3), lambda: done.append("heard"))
    for _ in range(3):
        media.tick()
    assert wire.events() == ["media"] * 3  # one frame a tick
    media.tick()
    assert wire.events()[-1] == "mark" and done == []  # sent, not heard yet
    name = wire.sent[-1]["mark"]["name"]  # type: ignore[index]
    media.tick()
    assert wire.events()[-1] == "mark"  # nothing more is sent while idle
    media.receive_mark(str(name))
    assert done == ["heard"] and media.marks_heard == 1


def test_an_interrupted_prompt_sends_clear_and_is_done_at_once() -> None:
    media, wire = leg()
    done: list[str] = []
    source = prompt(50)
    media.play(source, lambda: done.append("cut"))
    for _ in range(5):
        media.tick()
    source.interrupt()  # barge-in (ivr.media.prompt)
    media.tick()
    assert wire.events() == ["media"] * 5 + ["clear"]
    assert done == ["cut"] and media.clears == 1


def test_replacing_a_playing_source_clears_and_a_finished_one_does_not() -> None:
    media, wire = leg()
    media.play(prompt(50))
    media.tick()
    media.play(prompt(1))
    assert wire.events() == ["media", "clear"]
    media.tick()
    media.tick()  # ran out: mark
    media.play(prompt(1))
    assert wire.events() == ["media", "clear", "media", "mark"]


def test_a_mark_twilio_never_echoes_settles_after_the_wait() -> None:
    media, _ = leg()
    done: list[str] = []
    media.play(ToneGenerator((440.0,), 8000, duration_ms=40), lambda: done.append("x"))
    for _ in range(3 + MARK_WAIT_TICKS + 1):
        media.tick()
    assert done == ["x"] and media.marks_unanswered == 1


def test_digits_and_audio_in() -> None:
    media, _ = leg()
    digits: list[tuple[str, int, str]] = []
    frames: list[AudioFrame] = []
    media.on_digit(lambda d, ms, src: digits.append((d, ms, src)))
    media.add_listener(frames.append)
    media.receive_dtmf("5")
    assert digits == [("5", 0, "twilio")]
    tone = (1000 * np.sin(np.arange(480) / 5)).astype(np.int16)
    codes = ulaw_encode(tone).tobytes()
    for n in range(3):
        media.receive_media(20 * n, codes[160 * n : 160 * (n + 1)])
    for _ in range(3):
        media.tick()
    assert len(frames) == 3  # primed (two waiting), then one a tick
    got = np.concatenate([f.samples for f in frames]).astype(float)
    assert np.corrcoef(got, tone.astype(float))[0, 1] > 0.99
