"""Utterance segmentation: frame scores → speech-start / speech-end events with the audio.

A two-state machine over fixed frames (the detector's, 20 ms):

* SILENCE → SPEECH after `start_ms` of consecutive speech frames. Requiring a run, not one
  frame, keeps clicks and line pops from opening utterances. The utterance's audio then starts
  `pre_roll_ms` before that run, because detectors fire a little after a word's soft onset
  and recognisers mis-hear a clipped first phoneme.
* SPEECH → SILENCE after `hangover_ms` of consecutive non-speech frames, so the pauses between
  words and breaths do not split a sentence. The reported `end` is the end of the last speech
  frame; the audio keeps `pre_roll_ms` of trailing context after it.
* An utterance longer than `max_utterance_ms` is cut there and a new one opened at once:
  Whisper decodes 30 s windows, and a never-ending "utterance" (music on hold mistaken for
  speech) must not hold audio forever.

Times are seconds from the first sample this segmenter was given, counted from the samples
themselves (frame timestamps may be 0 when the producer does not know them).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from media.frames import Pcm, samples_per_frame
from media.vad.detectors import SpeechDetector


@dataclass(frozen=True, slots=True)
class VadConfig:
    """Segmentation knobs. `threshold` applies to the detector's probability."""

    threshold: float = 0.5
    start_ms: int = 60
    hangover_ms: int = 400
    pre_roll_ms: int = 200
    max_utterance_ms: int = 25_000


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began at `start` seconds (the first frame of the triggering run)."""

    start: float


@dataclass(frozen=True, slots=True, eq=False)
class Utterance:
    """A finished stretch of speech.

    `start`/`end` bound the speech itself; `samples` hold it with the pre-roll before and the
    trailing context after, beginning at `audio_start` seconds. Audio is personal data: the
    repr shows only its length.
    """

    start: float
    end: float
    audio_start: float
    samples: Pcm = field(repr=False)
    sample_rate: int
    forced: bool = False  # cut at max_utterance_ms rather than by silence

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


VadEvent = SpeechStarted | Utterance


class _State(Enum):
    SILENCE = "silence"
    SPEECH = "speech"


class UtteranceSegmenter:
    """Cuts one stream into utterances. Feed it PCM of any length with `push()`."""

    def __init__(self, detector: SpeechDetector, config: VadConfig | None = None) -> None:
        self.detector = detector
        self.config = config or VadConfig()
        self.sample_rate = detector.sample_rate
        self._frame_len = samples_per_frame(self.sample_rate, detector.frame_ms)
        frame_ms = detector.frame_ms
        self._start_frames = max(1, -(-self.config.start_ms // frame_ms))
        self._hang_frames = max(1, -(-self.config.hangover_ms // frame_ms))
        self._pre_frames = self.config.pre_roll_ms // frame_ms
        self._max_frames = max(1, self.config.max_utterance_ms // frame_ms)
        self.reset()

    def reset(self) -> None:
        """Start a new stream: times restart at 0 and any open utterance is discarded."""
        self.detector.reset()
        self._state = _State.SILENCE
        self._remainder = np.zeros(0, dtype=np.int16)
        self._frame_index = 0  # index of the next frame to classify
        # Recent frames while silent: pre-roll plus the run that may open an utterance.
        self._recent: deque[Pcm] = deque(maxlen=self._pre_frames + self._start_frames)
        self._run = 0
        self._utt: list[Pcm] = []
        self._utt_first_frame = 0  # frame index where the utterance's audio begins
        self._speech_start_frame = 0
        self._last_speech_frame = 0
        self._silence_run = 0

    @property
    def in_speech(self) -> bool:
        return self._state is _State.SPEECH

    def push(self, pcm: Pcm) -> list[VadEvent]:
        """Classify the next chunk of the stream; returns the events it completed, in order."""
        data = np.concatenate((self._remainder, pcm)) if len(self._remainder) else pcm
        events: list[VadEvent] = []
        n = self._frame_len
        whole = len(data) - len(data) % n
        for off in range(0, whole, n):
            self._frame(data[off : off + n], events)
        self._remainder = data[whole:].copy()
        return events

    def flush(self) -> list[VadEvent]:
        """End of stream (or of a turn): close an open utterance now."""
        if self._state is not _State.SPEECH:
            return []
        return [self._close(forced=False)]

    def _t(self, frame_index: int) -> float:
        return frame_index * self._frame_len / self.sample_rate

    def _frame(self, frame: Pcm, events: list[VadEvent]) -> None:
        idx = self._frame_index
        self._frame_index += 1
        voiced = self.detector.speech_probability(frame) >= self.config.threshold
        if self._state is _State.SILENCE:
            self._recent.append(frame)
            self._run = self._run + 1 if voiced else 0
            if self._run >= self._start_frames:
                self._open(speech_start=idx - self._run + 1, first=idx - len(self._recent) + 1)
                self._utt = list(self._recent)
                self._recent.clear()
                self._last_speech_frame = idx
                events.append(SpeechStarted(self._t(self._speech_start_frame)))
            return
        self._utt.append(frame)
        if voiced:
            self._last_speech_frame = idx
            self._silence_run = 0
        else:
            self._silence_run += 1
        if self._silence_run >= self._hang_frames:
            events.append(self._close(forced=False))
        elif len(self._utt) >= self._max_frames:
            events.append(self._close(forced=True))
            # Still talking: the next utterance starts with the next frame, no pre-roll.
            self._open(speech_start=idx + 1, first=idx + 1)
            self._last_speech_frame = idx
            events.append(SpeechStarted(self._t(idx + 1)))

    def _open(self, speech_start: int, first: int) -> None:
        self._state = _State.SPEECH
        self._speech_start_frame = speech_start
        self._utt_first_frame = first
        self._utt = []
        self._silence_run = 0
        self._run = 0

    def _close(self, forced: bool) -> Utterance:
        end_frame = self._frame_index if forced else self._last_speech_frame + 1
        # Keep as much trailing context as pre-roll, no more: the rest is silence.
        keep = min(len(self._utt), end_frame + self._pre_frames - self._utt_first_frame)
        frames = self._utt[:keep]
        samples = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)
        utt = Utterance(
            start=self._t(self._speech_start_frame),
            end=self._t(end_frame),
            audio_start=self._t(self._utt_first_frame),
            samples=samples,
            sample_rate=self.sample_rate,
            forced=forced,
        )
        self._state = _State.SILENCE
        self._utt = []
        self._recent.clear()
        self._run = 0
        self._silence_run = 0
        return utt
