"""`FrameQueue`: a bounded, jitter-free hand-off of audio frames from one leg to another.

A bridged leg's listener `write()`s each decoded frame into the queue on the media tick; the
other leg plays the queue as its `AudioSource` and pulls one frame per tick. Both ends run on
the same 20 ms clock, so the queue is usually 0-1 frames deep: it adds no buffering of its own
(the RTP jitter buffer upstream already smoothed arrival), it only absorbs the order in which
the ticker visits the two legs.

Nothing here blocks or grows: beyond `max_frames` the oldest frame is dropped and counted
(stale audio is worse than lost audio, STYLE.md §6); an empty queue yields silence (counted as
an underrun) rather than `None`, because `None` would tell the leg the source is finished.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from media.frames import AudioFrame, samples_per_frame

# Three frames (60 ms): room for a tick landing between two packets of a burst, small enough
# that a leg delivering faster than the clock cannot build up audible delay.
DEFAULT_MAX_FRAMES = 3


class FrameQueue:
    """Frames in by `write()` (an `AudioSink`), out by `next_frame()` (an `AudioSource`)."""

    def __init__(self, sample_rate: int = 8000, max_frames: int = DEFAULT_MAX_FRAMES) -> None:
        if max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        self.sample_rate = sample_rate
        self._frames: deque[AudioFrame] = deque(maxlen=max_frames)
        self._silence = np.zeros(samples_per_frame(sample_rate), np.int16)
        self._timestamp = 0
        self._closed = False
        self.written = 0
        self.dropped = 0
        self.underruns = 0

    def __len__(self) -> int:
        return len(self._frames)

    def write(self, frame: AudioFrame) -> None:
        """Queue a frame; when full, the oldest gives way (counted in `dropped`)."""
        if self._closed:
            return
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)
        self.written += 1

    def next_frame(self) -> AudioFrame | None:
        """The oldest queued frame, silence when there is none, `None` once closed."""
        if self._closed:
            return None
        if self._frames:
            frame = self._frames.popleft()
        else:
            self.underruns += 1
            frame = AudioFrame(self._silence, self.sample_rate)
        # Restamped so the stream the far end hears is continuous whatever the source did.
        out = AudioFrame(frame.samples, frame.sample_rate, self._timestamp)
        self._timestamp += len(frame.samples)
        return out

    def close(self) -> None:
        """End the stream: queued frames are discarded and the player sees the end."""
        self._closed = True
        self._frames.clear()
