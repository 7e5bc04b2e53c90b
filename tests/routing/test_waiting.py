"""The waiting room on a fake leg ticked in step with a FakeClock (20 ms of clock per tick),
with real espeak-ng speech: when announcements start, music filling the gaps and resuming
where it stopped, the words for each queue's flags, the callback menu, hang-up and
cancellation."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ivr.media.events import CallInput, Digit
from ivr.media.tts import EspeakTts, write_wav
from media.clock import FakeClock
from media.frames import AudioFrame, Pcm
from media.player import AudioSource
from routing import waiting as w
from routing.model import QueueConfig
from routing.waiting import Phase, WaitingRoom, WaitOutcome, WaitStatus
from tests.ivr.media.fakes import FakeLeg
from voice.call import Call, Direction

TICK = 0.02
MUSIC_FRAMES = 100  # the test music: 2 s, frame k a constant 1000 + 20 k


class TapeLeg(FakeLeg):
    """A FakeLeg that keeps what each tick played, with the clock time of the tick."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.tape: list[tuple[float, AudioFrame | None]] = []
        self._out: AudioFrame | None = None

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        super().play(None if source is None else _Tap(source, self), on_done)

    def tick(self) -> None:
        self._out = None
        super().tick()
        self.tape.append((self.clock.now(), self._out))


@dataclass
class _Tap:
    source: AudioSource
    leg: TapeLeg

    def next_frame(self) -> AudioFrame | None:
        self.leg._out = frame = self.source.next_frame()
        return frame


class SpyTts:
    """Real espeak-ng; remembers what it was asked to say and whether it could cache it."""

    def __init__(self, cache_dir: Path) -> None:
        self.espeak = EspeakTts(cache_dir)
        self.said: list[tuple[str, bool]] = []

    async def synthesize(self, text: str, *, cache: bool = True) -> Pcm:
        self.said.append((text, cache))
        return await self.espeak.synthesize(text, cache=cache)

    def texts(self) -> list[str]:
        return [t for t, _ in self.said]


@dataclass
class Rig:
    clock: FakeClock
    leg: TapeLeg
    call: Call
    tts: SpyTts

    def room(self, queue: QueueConfig, **kw: Any) -> WaitingRoom:
        status: Callable[[], WaitStatus] = kw.pop("status", lambda: WaitStatus(2, 180.0))
        return WaitingRoom(self.call, queue, clock=self.clock, tts=self.tts, status=status, **kw)

    def press(self, digits: str) -> None:
        for d in digits:
            self.call.digit(d, 100, "rfc4733")


async def _ticks(leg: TapeLeg, clock: FakeClock) -> None:
    while True:
        leg.tick()
        clock.advance(TICK)
        await asyncio.sleep(0.002)


@pytest.fixture
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock()
    leg = TapeLeg(clock)
    caller = getattr(request, "param", "+15550100199")
    call = Call("call-w", Direction.INBOUND, leg, caller=caller)
    ticker = asyncio.create_task(_ticks(leg, clock))
    try:
        yield Rig(clock, leg, call, SpyTts(tmp_path / "tts"))
    finally:
        ticker.cancel()
        await asyncio.wait({ticker})


async def until(cond: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    started = time.monotonic()
    while not cond():
        assert time.monotonic() - started < limit, f"never: {what}"
        await asyncio.sleep(0.002)


def music_pcm() -> Pcm:
    pcm = np.repeat(1000 + 20 * np.arange(MUSIC_FRAMES), 160).astype(np.int16)
    pcm.flags.writeable = False
    return pcm


def music_index(frame: AudioFrame | None) -> int | None:
    if frame is None or frame.samples[0] < 1000 or np.any(frame.samples != frame.samples[0]):
        return None
    return (int(frame.samples[0]) - 1000) // 20


def speech_starts(tape: list[tuple[float, AudioFrame | None]]) -> list[float]:
    """Onsets of speech: loud frames that are not music, more than 1 s after the last."""
    starts: list[float] = []
    last = -math.inf
    for t, frame in tape:
        if frame is None or music_index(frame) is not None:
            continue
        if np.sqrt(np.mean(frame.samples.astype(np.float64) ** 2)) > 200:
            if t - last > 1.0:
                starts.append(t)
            last = t
    return starts


QUEUE = QueueConfig("support", announce_every=10.0, callback_key=None, moh=None)
SAID = "You are caller number 2 in line. Your estimated wait time is about 3 minutes."


async def run_for(rig: Rig, room: WaitingRoom, seconds: float) -> float:
    """Run `room` for `seconds` of clock, then cancel it; the clock time it started at."""
    begun = rig.clock.now()
    task = asyncio.create_task(room.run())
    await until(lambda: rig.clock.now() >= begun + seconds, f"{seconds} s of clock")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return begun


async def test_announcements_on_entry_then_every_interval_in_silence(rig: Rig) -> None:
    await rig.tts.espeak.synthesize(SAID)  # cached: synthesis costs no clock time below
    begun = await run_for(rig, rig.room(QUEUE), 25.0)
    starts = [t - begun for t in speech_starts(rig.leg.tape)]
    assert len(starts) == 3, starts
    for got, want in zip(starts, (0.0, 10.0, 20.0), strict=True):
        assert want <= got < want + 0.6
    assert rig.tts.texts() == [SAID] * 3
    # With no music, nothing but the announcements is heard.
    assert all(music_index(f) is None for _, f in rig.leg.tape)


async def test_music_fills_the_gaps_and_resumes_where_it_stopped(rig: Rig) -> None:
    await rig.tts.espeak.synthesize(SAID)
    begun = await run_for(rig, rig.room(QUEUE, moh=music_pcm()), 25.0)
    tape = rig.leg.tape
    starts = speech_starts(tape)
    assert [round(t - begun) for t in starts] == [0, 10, 20], starts
    played = [i for _, f in tape if (i := music_index(f)) is not None]
    assert played[0] == 0 and len(played) > 2 * MUSIC_FRAMES
    # One unbroken loop: each frame follows the one before, across every announcement.
    assert all(b == (a + 1) % MUSIC_FRAMES for a, b in zip(played, played[1:], strict=False))
    # Between announcements the caller hears music, not silence.
    for start in starts[1:]:
        gap = [f for t, f in tape if start - 4.0 <= t < start]
        assert sum(music_index(f) is not None for f in gap) >= 0.9 * len(gap)


async def test_default_music_plays_from_the_queue_setting(rig: Rig) -> None:
    queue = replace(QUEUE, moh="default", announce_every=0)
    await run_for(rig, rig.room(queue), 3.0)
    loud = [f for _, f in rig.leg.tape if f is not None and np.abs(f.samples).max() > 100]
    assert len(loud) > 100 and rig.tts.said == []  # announcements off, no callback key


def test_words_follow_the_queue_flags() -> None:
    status = WaitStatus(2, 170.0)
    q = QueueConfig("q", callback_key="1")
    assert w.announcement(q, status) == (
        "You are caller number 2 in line. Your estimated wait time is about 3 minutes. "
        "To be called back without losing your place, press 1.")
    assert w.announcement(replace(q, callback_key=None, announce_wait=False), status) == (
        "You are caller number 2 in line.")
    assert w.announcement(replace(q, callback_key="9", announce_position=False),
                          WaitStatus(1, math.inf)) == (
        "We can't estimate your wait time right now. "
        "To be called back without losing your place, press 9.")
    assert w.announcement(replace(q, callback_key=None), WaitStatus(1, 20.0)) == (
        "You are next in line. Your estimated wait time is less than a minute.")
    assert w.announcement(replace(q, callback_key=None), WaitStatus(3, math.inf)) == (
        "You are caller number 3 in line. We can't estimate your wait time right now.")
    assert w.announcement(replace(q, callback_key="*", announce_position=False),
                          WaitStatus(3, math.nan)) == (
        "To be called back without losing your place, press star.")
    assert w.announcement(replace(q, callback_key=None), None) is None
    assert w.spoken_number("+1555") == "plus 1 5 5 5"


async def test_no_interval_offers_the_callback_once(rig: Rig) -> None:
    await run_for(rig, rig.room(replace(QUEUE, announce_every=0, callback_key="1")), 20.0)
    assert rig.tts.texts() == ["To be called back without losing your place, press 1."]


async def start_callback(
    rig: Rig, queue: QueueConfig, **kw: Any
) -> tuple[WaitingRoom, asyncio.Task[WaitOutcome]]:
    room = rig.room(replace(queue, callback_key="1"), **kw)
    task = asyncio.create_task(room.run())
    await until(lambda: rig.tts.said != [], "the entry announcement")
    rig.press("1")
    return room, task


async def test_callback_to_the_calling_number(rig: Rig) -> None:
    room, task = await start_callback(rig, QUEUE)
    await until(lambda: room.phase is Phase.OFFERING, "the offer")
    rig.press("1")
    await until(lambda: room.phase is Phase.CONFIRMING, "the confirmation")
    text, cached = rig.tts.said[-1]
    assert text.startswith("We will call you back at plus 1 5 5 5 0 1 0 0 1 9 9.")
    assert not cached and not rig.tts.espeak.cached_path(text).exists()
    rig.press("1")
    outcome = await task
    assert outcome == WaitOutcome("callback", "+15550100199") and "555" not in repr(outcome)
    assert rig.leg.source is None


async def test_callback_to_another_number_entered_twice(rig: Rig) -> None:
    room, task = await start_callback(rig, QUEUE)
    await until(lambda: room.phase is Phase.OFFERING, "the offer")
    rig.press("2")
    await until(lambda: room.phase is Phase.ENTERING, "entering")
    rig.press("5551234#")
    await until(lambda: room.phase is Phase.CONFIRMING, "the confirmation")
    assert rig.tts.texts()[-1].startswith("We will call you back at 5 5 5 1 2 3 4.")
    rig.press("2")
    await until(lambda: room.phase is Phase.ENTERING, "entering again")
    rig.press("5559876#")
    await until(lambda: rig.tts.texts()[-1].startswith("We will call you back at 5 5 5 9 8 7 6"),
                "the second confirmation")
    rig.press("1")
    assert await task == WaitOutcome("callback", "5559876")


@pytest.mark.parametrize("rig", ["anonymous"], indirect=True)
async def test_invalid_entries_go_back_to_music(rig: Rig) -> None:
    room, task = await start_callback(rig, QUEUE, moh=music_pcm())
    for entry in ("12#", "1*34#", "1234567890123456"):  # short, not digits, too long
        await until(lambda: room.phase is Phase.ENTERING and rig.tts.texts()[-1] == w.ENTER_TEXT,
                    "the entry prompt")
        said = len(rig.tts.said)
        rig.press(entry)
        await until(lambda: len(rig.tts.said) > said, "the answer to an entry")  # noqa: B023
        assert rig.tts.texts()[said] == w.INVALID_TEXT
    await until(lambda: room.phase is Phase.WAITING, "back to waiting")
    assert w.OFFER_TEXT not in rig.tts.texts()  # no usable caller number: straight to entry
    await until(lambda: music_index(rig.leg.tape[-1][1]) is not None, "music again")
    rig.call.ended("remote")
    assert await task == WaitOutcome("hangup")


async def test_no_answer_at_each_step_goes_back_to_music_in_place(rig: Rig) -> None:
    room, task = await start_callback(rig, replace(QUEUE, announce_every=12.0), moh=music_pcm())
    for keys in ("", "2", "2555#"):  # no answer to the offer, the entry, the confirmation
        await until(lambda: room.phase is Phase.OFFERING, "the offer")
        rig.press(keys)
        mark = len(rig.leg.tape)
        await until(lambda: room.phase is Phase.WAITING, "back to waiting")
        await until(lambda: music_index(rig.leg.tape[-1][1]) is not None, "music again")
        menu = rig.leg.tape[mark:]
        spoke = max(t for t, f in menu if f is not None and music_index(f) is None
                    and np.abs(f.samples).max() > 500)
        resumed = next(t for t, f in menu if t > spoke and music_index(f) is not None)
        # Silence while the menu waits for a key, then the music again.
        assert w.ANSWER_TIMEOUT_S <= resumed - spoke < w.ANSWER_TIMEOUT_S + 1.0
        rig.press("1")
    played = [i for _, f in rig.leg.tape if (i := music_index(f)) is not None]
    assert all(b == (a + 1) % MUSIC_FRAMES for a, b in zip(played, played[1:], strict=False))
    assert rig.tts.texts()[0].startswith("You are") and not any(
        t.startswith("You are") for t in rig.tts.texts()[1:])  # not right after each menu
    task.cancel()
    await asyncio.wait({task})


def speaking(rig: Rig) -> bool:
    """The last tick played something other than the test music."""
    frame = rig.leg.tape[-1][1] if rig.leg.tape else None
    return frame is not None and music_index(frame) is None


async def drive(rig: Rig, room: WaitingRoom, phase: Phase) -> None:
    """Bring `room` (callback key 1) to `phase`, with its audio playing."""
    if phase is Phase.WAITING:
        await until(lambda: rig.tts.said != [] and room.phase is Phase.WAITING
                    and not speaking(rig), "waiting after the entry announcement")
        return
    if phase is not Phase.ANNOUNCING:
        await until(lambda: rig.tts.said != [], "the entry announcement")
        rig.press("1")
        await until(lambda: room.phase is Phase.OFFERING, "the offer")
        rig.press({Phase.OFFERING: "", Phase.ENTERING: "2", Phase.CONFIRMING: "2555#"}[phase])
    await until(lambda: room.phase is phase and speaking(rig), f"{phase.value}, speaking")


@pytest.mark.parametrize("phase", [Phase.WAITING, Phase.ANNOUNCING, Phase.OFFERING,
                                   Phase.ENTERING, Phase.CONFIRMING])
async def test_hangup_at_any_point(rig: Rig, phase: Phase) -> None:
    room = rig.room(replace(QUEUE, callback_key="1"), moh=music_pcm())
    task = asyncio.create_task(room.run())
    await drive(rig, room, phase)
    rig.call.ended("remote")
    assert await asyncio.wait_for(task, 5.0) == WaitOutcome("hangup")


@pytest.mark.parametrize("phase", [Phase.WAITING, Phase.ANNOUNCING, Phase.OFFERING])
async def test_cancel_stops_the_audio_and_keeps_the_input(rig: Rig, phase: Phase) -> None:
    room = rig.room(replace(QUEUE, callback_key="1"), moh=music_pcm())
    task = asyncio.create_task(room.run())
    await drive(rig, room, phase)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rig.leg.source is None
    ticks = len(rig.leg.tape)
    await until(lambda: len(rig.leg.tape) > ticks + 10, "ticks")
    assert all(f is None for _, f in rig.leg.tape[ticks:])
    rig.press("7")  # the call's input still reaches whoever reads it next
    assert await CallInput.of(rig.call).next(rig.clock, 1.0) == Digit("7")


async def test_closing_prompts(rig: Rig) -> None:
    await w.say_callback_confirmed(rig.call, rig.tts, rig.clock)
    assert rig.tts.texts() == [w.CONFIRMED_TEXT] and len(speech_starts(rig.leg.tape)) == 1
    rig.call.ended("remote")
    await asyncio.wait_for(w.say_unavailable(rig.call, rig.tts, rig.clock), 5.0)
    assert len(speech_starts(rig.leg.tape)) == 1


async def test_speech_failure_leaves_the_music(rig: Rig, tmp_path: Path) -> None:
    rig.tts.espeak.executable = str(tmp_path / "no-espeak")
    room = rig.room(replace(QUEUE, callback_key="1"), moh=music_pcm())
    await run_for(rig, room, 3.0)
    assert rig.tts.said and sum(music_index(f) is not None for _, f in rig.leg.tape) > 120


def test_music_setting_that_cannot_play_is_silence(tmp_path: Path) -> None:
    bad = tmp_path / "moh.wav"
    write_wav(bad, np.zeros(800, np.int16), 22050)
    assert w.music_for(str(bad)) is None and w.music_for(None) is None
    assert w.music_for("default") is not None


async def test_cancel_while_the_announcement_is_synthesized(rig: Rig) -> None:
    room = rig.room(QUEUE, moh=music_pcm())
    task = asyncio.create_task(room.run())
    await until(lambda: room.phase is Phase.ANNOUNCING and rig.tts.said != [], "synthesis")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rig.leg.source is None and not rig.tts.espeak.cached_path(SAID).exists()
    assert len(await rig.tts.espeak.synthesize(SAID)) > 8000  # nothing left half done
