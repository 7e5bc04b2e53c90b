"""A fake leg driven by a fast tick, and a fake IVR session, for the media verbs' tests."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np

from ivr.services import Services
from ivr.verbs.base import Pos, Step
from media.asr.base import TranscriptResult
from media.clock import Clock, LoopClock
from media.frames import AudioFrame
from media.player import AudioSource
from voice.call import Call, Direction


class FakeLeg:
    """Plays sources frame by frame and feeds queued caller audio to listeners on `tick()`."""

    def __init__(self) -> None:
        self.source: AudioSource | None = None
        self.on_done: Callable[[], None] | None = None
        self.listeners: list[Callable[[AudioFrame], None]] = []
        self.inbound: deque[AudioFrame] = deque()
        self.frames_played = 0

    def ring(self) -> None: ...

    async def answer(self) -> None: ...

    async def hold(self) -> None: ...

    async def unhold(self) -> None: ...

    def hangup(self) -> None: ...

    def send_dtmf(self, digits: str) -> None: ...

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        self.source, self.on_done = source, on_done

    def add_listener(self, listener: Callable[[AudioFrame], None]) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Callable[[AudioFrame], None]) -> None:
        self.listeners.remove(listener)

    def leg_media(self) -> Any:
        return self

    def tick(self) -> None:
        frame = self.inbound.popleft() if self.inbound else AudioFrame(np.zeros(160, np.int16))
        for listener in list(self.listeners):
            listener(frame)
        if self.source is not None:
            out = self.source.next_frame()
            if out is None:
                done, self.on_done, self.source = self.on_done, None, None
                if done is not None:
                    done()
            else:
                self.frames_played += 1


async def run_ticks(leg: FakeLeg, period: float = 0.001) -> None:
    """Tick `leg` fast (1 ms for 20 ms of audio) until cancelled."""
    while True:
        leg.tick()
        await asyncio.sleep(period)


def feed_audio(leg: FakeLeg, pcm: np.ndarray[Any, Any]) -> None:
    """Queue 8 kHz caller audio, 20 ms at a time."""
    for i in range(0, len(pcm) - 159, 160):
        leg.inbound.append(AudioFrame(pcm[i : i + 160].astype(np.int16)))


class FakeSession:
    """An IvrSession: records inputs (and stores them when given a store and interaction)."""

    def __init__(self, call: Call, services: Services, flow_dir: Path,
                 interaction_id: int | None = None) -> None:
        self.call = call
        self.vars: dict[str, Any] = {}
        self.clock: Clock = LoopClock()
        self.flow_dir = flow_dir
        self.services = services
        self.inputs: list[tuple[str, Any, bool]] = []
        self.interaction_id = interaction_id

    def render(self, text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: str(self.vars.get(m.group(1), "")), text)

    async def record_input(self, kind: str, value: Any, *, step: Step,
                           sensitive: bool = False) -> None:
        self.inputs.append((kind, value, sensitive))
        store = self.services.store
        if store is not None and self.interaction_id is not None:
            await store.add_ivr_event(self.interaction_id, kind=kind, value=value,
                                      step=step.label, step_index=step.index,
                                      sensitive=sensitive)


def step(verb: str, params: dict[str, Any], *, sensitive: bool = False,
         label: str | None = None) -> Step:
    return Step(0, verb, params, label, Pos("flow.yaml", 1, 3), {}, sensitive)


def new_call(leg: FakeLeg) -> Call:
    return Call("call-1", Direction.INBOUND, leg, caller="+15550100199")


class FakeAsrStream:
    """Says `text` once it has been pushed `after` frames (or flushed)."""

    def __init__(self, text: str, after: int) -> None:
        self.text, self.after, self.frames = text, after, 0
        self._ready = asyncio.Event()
        self.closed = False

    def push_frame(self, frame: AudioFrame) -> None:
        self.frames += 1
        if self.frames >= self.after:
            self._ready.set()

    def flush(self) -> None:
        self._ready.set()

    def end_input(self) -> None:
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[TranscriptResult]:
        return self._results()

    async def _results(self) -> AsyncIterator[TranscriptResult]:
        await self._ready.wait()
        yield TranscriptResult(self.text, True, 0.0, 1.0, 0.9, "fake")

    async def aclose(self) -> None:
        self.closed = True
