"""Bridge and mixer with fake legs."""

from __future__ import annotations

import numpy as np
import pytest

from media.bridge import Bridge, Mixer
from media.frames import AudioFrame


class FakeLeg:
    def __init__(self) -> None:
        self.heard: list[AudioFrame] = []

    def write(self, frame: AudioFrame) -> None:
        self.heard.append(frame)


def noise(seed: int, n: int = 160, scale: int = 8000) -> np.ndarray:
    return np.random.default_rng(seed).integers(-scale, scale, n).astype(np.int16)


def test_bridge_is_bit_exact_both_ways() -> None:
    a, b = FakeLeg(), FakeLeg()
    bridge = Bridge("a", a, "b", b)
    fa = [AudioFrame(noise(i), 8000, 160 * i) for i in range(10)]
    fb = [AudioFrame(noise(100 + i), 8000, 160 * i) for i in range(10)]
    for x, y in zip(fa, fb, strict=True):
        bridge.feed("a", x)
        bridge.feed("b", y)
    assert b.heard == fa and a.heard == fb


def test_bridge_mute_and_rate_conversion() -> None:
    a, b = FakeLeg(), FakeLeg()
    bridge = Bridge("a", a, "b", b, b_rate=16000)
    bridge.feed("a", AudioFrame(noise(1), 8000))
    assert b.heard[0].sample_rate == 16000 and len(b.heard[0].samples) == 320
    bridge.set_muted("b", True)
    bridge.feed("b", AudioFrame(noise(2, 320), 16000))
    assert a.heard == []


def test_two_party_mixer_is_bit_exact() -> None:
    a, b = FakeLeg(), FakeLeg()
    mixer = Mixer()
    mixer.add_leg("a", a)
    mixer.add_leg("b", b)
    sent = [noise(i, scale=32768) for i in range(5)]
    for pcm in sent:
        mixer.feed("a", AudioFrame(pcm, 8000))
        mixer.tick()
    assert [f.samples.tolist() for f in b.heard] == [p.tolist() for p in sent]
    assert not any(f.samples.any() for f in a.heard)  # b said nothing; a never hears itself
    assert [f.timestamp for f in a.heard] == [0, 160, 320, 480, 640]


def test_three_party_mix_is_sum_of_the_others_saturating() -> None:
    legs = {k: FakeLeg() for k in "abc"}
    mixer = Mixer()
    for k, leg in legs.items():
        mixer.add_leg(k, leg)
    pcm = {"a": noise(1), "b": noise(2), "c": np.full(160, 30000, np.int16)}
    for k, p in pcm.items():
        mixer.feed(k, AudioFrame(p, 8000))
    mixer.tick()
    wide = {k: p.astype(np.int32) for k, p in pcm.items()}
    for k, others in (("a", "bc"), ("b", "ac"), ("c", "ab")):
        expected = np.clip(sum(wide[o] for o in others), -32768, 32767)
        assert np.array_equal(legs[k].heard[0].samples, expected)
    assert legs["a"].heard[0].samples.max() == 32767  # saturated, not wrapped


def test_listen_and_whisper() -> None:
    legs = {k: FakeLeg() for k in ("caller", "agent", "sup")}
    mixer = Mixer()
    for k, leg in legs.items():
        mixer.add_leg(k, leg)
    mixer.whisper("sup", to="agent")
    pcm = {
        "caller": noise(1, scale=1000),
        "agent": noise(2, scale=1000),
        "sup": noise(3, scale=1000),
    }
    for k, p in pcm.items():
        mixer.feed(k, AudioFrame(p, 8000))
    mixer.tick()
    w = {k: p.astype(np.int32) for k, p in pcm.items()}
    assert np.array_equal(legs["caller"].heard[0].samples, w["agent"])
    assert np.array_equal(legs["agent"].heard[0].samples, w["caller"] + w["sup"])
    assert np.array_equal(legs["sup"].heard[0].samples, w["caller"] + w["agent"])
    mixer.remove_leg("sup")
    assert mixer.legs == ["caller", "agent"]


def test_buffer_bounds_underruns_and_wideband_leg() -> None:
    a, b = FakeLeg(), FakeLeg()
    mixer = Mixer(8000)
    mixer.add_leg("a", a)
    mixer.add_leg("b", b, sample_rate=16000)
    for i in range(5):
        mixer.feed("a", AudioFrame(noise(i), 8000))
    mixer.tick()
    assert b.heard[0].sample_rate == 16000 and len(b.heard[0].samples) == 320
    assert mixer.underruns == 1  # b sent nothing
    assert mixer.dropped("a") == 2
    with pytest.raises(ValueError):
        mixer.add_leg("a", a)
