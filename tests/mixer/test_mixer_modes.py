"""Who hears whom in the mixer, per mode, measured as a listener would: each party speaks its
own tone, and what every party receives is correlated against every source."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from media.bridge import Mixer, Mode, PulledMix
from media.frames import AudioFrame
from voice.conference import Conference

TONES = {"caller": 440.0, "agent": 700.0, "sup": 1100.0, "agent2": 1500.0}
FRAMES = 25  # half a second: enough for tones 20 Hz+ apart to be told apart


class Sink:
    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []

    def write(self, frame: AudioFrame) -> None:
        self.frames.append(frame)

    def audio(self) -> npt.NDArray[np.int16]:
        return np.concatenate([f.samples for f in self.frames])


def tone(freq: float, i: int) -> npt.NDArray[np.int16]:
    t = (np.arange(160) + 160 * i) / 8000
    return (6000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def source(freq: float) -> npt.NDArray[np.float64]:
    return np.concatenate([tone(freq, i) for i in range(FRAMES)]).astype(np.float64)


def corr(heard: npt.NDArray[np.int16], freq: float) -> float:
    """Normalised correlation of what was heard with one party's tone (0: none of it)."""
    x = heard.astype(np.float64)
    s = source(freq)
    denom = float(np.linalg.norm(x) * np.linalg.norm(s))
    return 0.0 if denom == 0 else float(np.dot(x, s) / denom)


def run(modes: dict[str, str]) -> dict[str, npt.NDArray[np.int16]]:
    mixer = Mixer()
    sinks = {name: Sink() for name in modes}
    for name in modes:
        mixer.add_leg(name, sinks[name])
    for name, mode in modes.items():
        mixer.set_mode(name, mode)
    for i in range(FRAMES):
        for name in modes:
            mixer.feed(name, AudioFrame(tone(TONES[name], i)))
        mixer.tick()
    return {name: sink.audio() for name, sink in sinks.items()}


def hears(heard: dict[str, npt.NDArray[np.int16]], listener: str, speaker: str) -> bool:
    c = corr(heard[listener], TONES[speaker])
    assert c > 0.4 or abs(c) < 0.05, f"{listener} hears {speaker} at {c:.2f}: neither"
    return c > 0.4


def test_listen_supervisor_hears_both_and_nobody_hears_them() -> None:
    heard = run({"caller": "both", "agent": "both", "sup": "listen"})
    assert hears(heard, "sup", "caller") and hears(heard, "sup", "agent")
    assert not hears(heard, "caller", "sup") and not hears(heard, "agent", "sup")
    assert hears(heard, "caller", "agent") and hears(heard, "agent", "caller")
    # Nobody hears themselves.
    assert not any(hears(heard, n, n) for n in ("caller", "agent", "sup"))


def test_whisper_only_the_agent_hears_the_supervisor() -> None:
    heard = run({"caller": "both", "agent": "both", "sup": "whisper:agent"})
    assert hears(heard, "agent", "sup") and hears(heard, "agent", "caller")
    assert not hears(heard, "caller", "sup") and hears(heard, "caller", "agent")
    assert hears(heard, "sup", "caller") and hears(heard, "sup", "agent")


def test_barge_all_three_hear_each_other() -> None:
    heard = run({"caller": "both", "agent": "both", "sup": "both"})
    for a in ("caller", "agent", "sup"):
        for b in ("caller", "agent", "sup"):
            assert hears(heard, a, b) == (a != b)


def test_conference_of_four_total_minus_own_path() -> None:
    """Four speak+hear parties take the total-minus-own path; still exact and self-free."""
    mixer = Mixer()
    sinks = {n: Sink() for n in TONES}
    for n in TONES:
        mixer.add_leg(n, sinks[n])
    pcm = {n: tone(f, 0) for n, f in TONES.items()}
    for n, p in pcm.items():
        mixer.feed(n, AudioFrame(p))
    mixer.tick()
    wide = {n: p.astype(np.int32) for n, p in pcm.items()}
    for n in TONES:
        expected = np.clip(sum(wide[o] for o in TONES if o != n), -32768, 32767)
        assert np.array_equal(sinks[n].frames[0].samples, expected)


def test_switching_mode_mid_call_and_leaving() -> None:
    mixer = Mixer()
    sinks = {n: Sink() for n in ("caller", "agent", "sup")}
    for n in ("caller", "agent"):
        mixer.add_leg(n, sinks[n])
    mixer.add_leg("sup", sinks["sup"], mode="listen")
    assert not mixer.hears("agent", "sup")
    mixer.set_mode("sup", "whisper:agent")
    assert mixer.hears("agent", "sup") and not mixer.hears("caller", "sup")
    mixer.set_mode("sup", Mode("both"))
    assert mixer.hears("caller", "sup")
    mixer.remove_leg("sup")
    assert mixer.legs == ["caller", "agent"]


def test_bad_modes_say_what_is_wrong() -> None:
    mixer = Mixer()
    mixer.add_leg("a", Sink())
    with pytest.raises(ValueError, match="whisper:<party>"):
        mixer.set_mode("a", "shout")
    with pytest.raises(ValueError, match="itself"):
        mixer.set_mode("a", "whisper:a")
    with pytest.raises(KeyError):
        mixer.set_mode("a", "whisper:nobody")


def test_pulled_mix_runs_one_tick_per_period_whoever_pulls_first() -> None:
    mixer = Mixer()
    pulled = {n: PulledMix(mixer) for n in ("a", "b", "c")}
    for n, q in pulled.items():
        mixer.add_leg(n, q)
    orders = [("a", "b", "c"), ("c", "a", "b"), ("b", "c", "a")] * 10
    for order in orders:
        for n in order:
            pulled[n].next_frame()
    assert mixer.ticks == len(orders)


class FakeLegMedia:
    """A leg on the media tick: sends its tone to its listeners, plays what it is given."""

    def __init__(self, freq: float) -> None:
        self.freq = freq
        self.listeners: list[object] = []
        self.playing: object = None
        self.heard: list[npt.NDArray[np.int16]] = []
        self.i = 0

    def add_listener(self, tap: object) -> None:
        self.listeners.append(tap)

    def remove_listener(self, tap: object) -> None:
        self.listeners.remove(tap)

    def play(self, source: object, on_done: object = None) -> None:
        self.playing = source

    def tick(self) -> None:
        frame = AudioFrame(tone(self.freq, self.i))
        self.i += 1
        for tap in list(self.listeners):
            tap(frame)  # type: ignore[operator]
        out = self.playing.next_frame() if self.playing is not None else None  # type: ignore[attr-defined]
        self.heard.append(out.samples if out is not None else np.zeros(160, np.int16))


def test_conference_on_the_legs_clock_with_a_second_agent_joining() -> None:
    """Legs tick in varying order; a second agent joins in `both`: all three hear each other."""
    legs = {n: FakeLegMedia(TONES[n]) for n in ("caller", "agent", "agent2")}
    room = Conference()
    room.join("caller", legs["caller"])  # type: ignore[arg-type]
    room.join("agent", legs["agent"])  # type: ignore[arg-type]
    for _ in range(5):
        for leg in (legs["caller"], legs["agent"]):
            leg.tick()
    room.join("agent2", legs["agent2"])  # type: ignore[arg-type]
    start = {n: len(leg.heard) for n, leg in legs.items()}
    for k in range(FRAMES + 3):
        order = list(legs.values())
        for leg in order[k % 3:] + order[:k % 3]:
            leg.tick()
    for listener, leg in legs.items():
        got = np.concatenate(leg.heard[start[listener] + 3:])
        for speaker in legs:
            peak = max(abs(corr_shift(got, TONES[speaker], s)) for s in range(0, 480, 8))
            if speaker == listener:
                assert peak < 0.1, (listener, speaker, peak)
            else:
                assert peak > 0.4, (listener, speaker, peak)
    room.leave("agent2")
    assert room.parties == ["caller", "agent"] and legs["agent2"].playing is None


def corr_shift(heard: npt.NDArray[np.int16], freq: float, shift: int) -> float:
    n = len(heard) - 480
    ref = source(freq)
    ref = np.concatenate([ref, ref])[shift:shift + n]
    x = heard[:n].astype(np.float64)
    denom = float(np.linalg.norm(x) * np.linalg.norm(ref))
    return 0.0 if denom == 0 else float(np.dot(x, ref) / denom)


class Music:
    """A source that plays a 300 Hz tone (what a held party hears)."""

    def __init__(self) -> None:
        self.i = 0

    def next_frame(self) -> AudioFrame:
        self.i += 1
        return AudioFrame(tone(300.0, self.i))


def amp(x: npt.NDArray[np.int16], freq: float) -> float:
    """The amplitude of `freq` in `x` (phase-free: a sine's and a cosine's correlation)."""
    t = np.arange(len(x)) / 8000
    return float(2 * abs(np.dot(x.astype(np.float64), np.exp(-2j * np.pi * freq * t))) / len(x))


def heard_tail(leg: FakeLegMedia, n: int) -> npt.NDArray[np.int16]:
    return np.concatenate(leg.heard[-n:])


def test_hold_mute_and_a_whisper_target_leaving() -> None:
    legs = {n: FakeLegMedia(TONES[n]) for n in ("caller", "agent", "sup")}
    room = Conference()
    for n in ("caller", "agent"):
        room.join(n, legs[n])  # type: ignore[arg-type]
    room.join("sup", legs["sup"], "whisper:agent")  # type: ignore[arg-type]

    def run(k: int = FRAMES) -> None:
        for _ in range(k):
            for leg in legs.values():
                leg.tick()

    run()
    assert amp(heard_tail(legs["agent"], 20), TONES["sup"]) > 1000
    assert amp(heard_tail(legs["caller"], 20), TONES["sup"]) < 50

    # The caller on hold hears music; the agent and the supervisor no longer hear them.
    room.hold("caller", Music())
    run()
    assert amp(heard_tail(legs["agent"], 20), TONES["caller"]) < 50
    assert amp(heard_tail(legs["sup"], 20), TONES["caller"]) < 50
    assert amp(heard_tail(legs["caller"], 20), 300.0) > 1000
    room.resume("caller")
    run()
    assert amp(heard_tail(legs["agent"], 20), TONES["caller"]) > 1000

    # Muted, the agent is heard by nobody but still hears.
    room.set_muted("agent", True)
    run()
    assert amp(heard_tail(legs["caller"], 20), TONES["agent"]) < 50
    assert amp(heard_tail(legs["agent"], 20), TONES["caller"]) > 1000
    room.set_muted("agent", False)

    # The agent leaves: the whisperer now speaks to nobody (listen), and still hears.
    room.leave("agent")
    assert str(room.mode("sup")) == "listen"
    run()
    assert amp(heard_tail(legs["caller"], 20), TONES["sup"]) < 50
    assert amp(heard_tail(legs["sup"], 20), TONES["caller"]) > 1000
    assert room.stats()["to_agent_dropped"] >= 0
    assert room.stats()["frames_forwarded"] > 3 * FRAMES


def test_a_deaf_supervisor_hears_nobody_until_privacy_resumes() -> None:
    """Deafness (privacy paused) outlasts other parties' mute and hold changes."""
    legs = {n: FakeLegMedia(TONES[n]) for n in ("caller", "agent", "sup")}
    room = Conference()
    for n in ("caller", "agent"):
        room.join(n, legs[n])  # type: ignore[arg-type]
    room.join("sup", legs["sup"], "whisper:agent")  # type: ignore[arg-type]

    def run() -> None:
        for _ in range(FRAMES):
            for leg in legs.values():
                leg.tick()

    room.set_deaf("sup", True)
    room.set_muted("agent", True)
    room.set_muted("agent", False)
    run()
    assert amp(heard_tail(legs["sup"], 20), TONES["caller"]) < 50
    assert amp(heard_tail(legs["sup"], 20), TONES["agent"]) < 50
    assert amp(heard_tail(legs["agent"], 20), TONES["sup"]) > 1000  # still whispering
    room.set_deaf("sup", False)
    run()
    assert amp(heard_tail(legs["sup"], 20), TONES["caller"]) > 1000
