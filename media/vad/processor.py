"""The VAD as a media processor: audio passes through, speech events are pushed after it.

Events travel as data frames so they keep their place relative to the audio around them (a
control frame would overtake queued audio and arrive before the speech it describes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from media.frames import AudioFrame, DataFrame, EndFrame, Frame, SilenceFrame
from media.pipeline import FrameProcessor
from media.vad.detectors import SpeechDetector
from media.vad.segmenter import SpeechStarted, Utterance, UtteranceSegmenter, VadConfig


@dataclass(slots=True)
class SpeechStartedFrame(DataFrame):
    """The caller started speaking at `start` seconds into the stream (barge-in cue)."""

    start: float = 0.0


@dataclass(slots=True, eq=False)
class UtteranceFrame(DataFrame):
    """A finished utterance with its audio (personal data: never logged)."""

    utterance: Utterance = field(repr=False)


class VadProcessor(FrameProcessor):
    """Segments the audio that flows through it.

    `detector_factory(sample_rate)` makes the stream's detector on the first audio frame; a
    change of rate (which a `ResampleProcessor` in front avoids) closes the open utterance and
    starts over. `SilenceFrame`s count as silence. An `EndFrame` closes an open utterance
    before it is passed on.
    """

    def __init__(
        self,
        detector_factory: Callable[[int], SpeechDetector],
        config: VadConfig | None = None,
    ) -> None:
        super().__init__()
        self._factory = detector_factory
        self._config = config
        self._segmenter: UtteranceSegmenter | None = None

    @property
    def in_speech(self) -> bool:
        return self._segmenter is not None and self._segmenter.in_speech

    async def process_frame(self, frame: Frame) -> None:
        if isinstance(frame, SilenceFrame):
            await self.push_frame(frame)
            await self._feed(frame.to_audio())
            return
        if isinstance(frame, AudioFrame):
            await self.push_frame(frame)
            await self._feed(frame)
            return
        if isinstance(frame, EndFrame) and self._segmenter is not None:
            await self._emit(self._segmenter.flush())
        await self.push_frame(frame)

    async def _feed(self, frame: AudioFrame) -> None:
        seg = self._segmenter
        if seg is None or seg.sample_rate != frame.sample_rate:
            if seg is not None:
                await self._emit(seg.flush())
            seg = self._segmenter = UtteranceSegmenter(
                self._factory(frame.sample_rate), self._config
            )
        await self._emit(seg.push(frame.samples))

    async def _emit(self, events: list[SpeechStarted | Utterance]) -> None:
        for ev in events:
            if isinstance(ev, SpeechStarted):
                await self.push_frame(SpeechStartedFrame(ev.start))
            else:
                await self.push_frame(UtteranceFrame(ev))
