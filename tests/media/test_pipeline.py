"""Pipeline ordering, interrupt flushing and bounded buffers."""

from __future__ import annotations

import asyncio

import numpy as np

from media.frames import (
    AudioFrame,
    DtmfFrame,
    EndFrame,
    Frame,
    InterruptFrame,
    StartFrame,
)
from media.pipeline import FrameProcessor, Pipeline
from tests.media.utils import audio_frames, run_processor


def frame(i: int) -> AudioFrame:
    return AudioFrame(np.full(160, i, dtype=np.int16), 8000, 160 * i)


class Gain(FrameProcessor):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    async def process_frame(self, frame: Frame) -> None:
        if isinstance(frame, AudioFrame):
            frame = AudioFrame(frame.samples * np.int16(self.k), frame.sample_rate, frame.timestamp)
        await self.push_frame(frame)


class Gate(FrameProcessor):
    """Suspends on every audio frame until released, to let frames pile up behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()

    async def process_frame(self, frame: Frame) -> None:
        if isinstance(frame, AudioFrame):
            await self.open.wait()
        await self.push_frame(frame)


async def test_default_processor_passes_everything_in_order() -> None:
    frames: list[Frame] = [StartFrame(), frame(1), DtmfFrame("1"), frame(2), EndFrame()]
    assert await run_processor(FrameProcessor(), frames) == frames


async def test_chain_applies_processors_in_order() -> None:
    p = Pipeline([Gain(2), Gain(3)])
    await p.queue_frame(frame(1))
    out = p.drain()
    assert out == [AudioFrame(np.full(160, 6, dtype=np.int16), 8000, 160)]


async def test_output_buffer_puts_control_first_and_interrupt_flushes() -> None:
    p = Pipeline([FrameProcessor()])
    for i in range(3):
        await p.queue_frame(frame(i))
    await p.queue_frame(StartFrame())
    assert p.read_frame() == StartFrame()
    assert p.read_frame() == frame(0)
    await p.queue_frame(InterruptFrame())
    await p.queue_frame(frame(9))
    assert p.drain() == [InterruptFrame(), frame(9)]
    assert p.flushed == 2 and p.dropped_output == 0


async def test_output_buffer_is_bounded_and_drops_oldest() -> None:
    p = Pipeline([], max_output=3)
    for i in range(5):
        await p.queue_frame(frame(i))
    assert p.drain() == [frame(2), frame(3), frame(4)]
    assert p.dropped_output == 2


async def test_held_input_lets_control_overtake_and_interrupt_discard_data() -> None:
    gate = Gate()
    out: list[Frame] = []
    p = Pipeline([gate], sink=out.append)
    first = asyncio.ensure_future(p.queue_frame(frame(1)))
    await asyncio.sleep(0)  # frame 1 is now suspended inside the gate
    await p.queue_frame(frame(2))
    await p.queue_frame(EndFrame())
    await p.queue_frame(frame(3))
    await p.queue_frame(InterruptFrame())
    await p.queue_frame(frame(4))
    gate.open.set()
    await first
    # 2 and 3 were held when the interrupt came: discarded. Control went ahead of frame 4.
    assert out == [frame(1), EndFrame(), InterruptFrame(), frame(4)]
    assert p.flushed == 2


async def test_held_input_is_bounded() -> None:
    gate = Gate()
    out: list[Frame] = []
    p = Pipeline([gate], sink=out.append, max_pending=2)
    first = asyncio.ensure_future(p.queue_frame(frame(0)))
    await asyncio.sleep(0)
    for i in range(1, 5):
        await p.queue_frame(frame(i))
    gate.open.set()
    await first
    assert out == [frame(0), frame(3), frame(4)]
    assert p.dropped_input == 2


async def test_utils_cut_and_pad() -> None:
    frames = audio_frames(np.ones(170, dtype=np.int16))
    assert [len(f.samples) for f in frames] == [160, 160]
    assert frames[1].timestamp == 160 and frames[1].samples[10:].sum() == 0
