"""Recording the caller for voicemail: a listener on the leg's tick appends frames (bounded by
the maximum length), a VAD counts trailing silence; the WAV is written off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ivr.media.events import caller_audio
from ivr.media.tts import write_wav
from media.frames import AudioFrame, Pcm
from media.vad import make_detector
from voice.call import Call


class Recording:
    """Collects up to `max_seconds` of the caller's 8 kHz audio; `stopped` is set at the
    limit or after `silence_seconds` of silence once speech was heard."""

    def __init__(self, call: Call, *, max_seconds: float, silence_seconds: float) -> None:
        self._leg = caller_audio(call)
        self._max_frames = int(max_seconds * 50)
        self._silence_frames = max(1, int(silence_seconds * 50))
        self._frames: list[Pcm] = []
        self._quiet = 0
        self._heard = False
        self._vad = make_detector("webrtc", 8000)
        self.stopped = asyncio.Event()
        self.reason = ""
        self._listener: Callable[[AudioFrame], None] = self._on_frame

    def __enter__(self) -> Recording:
        if self._leg is not None:
            self._leg.add_listener(self._listener)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._leg is not None:
            self._leg.remove_listener(self._listener)

    def _on_frame(self, frame: AudioFrame) -> None:
        # On the media tick: an append and one VAD decision.
        if self.stopped.is_set() or frame.sample_rate != 8000:
            return
        self._frames.append(frame.samples)
        if self._vad.speech_probability(frame.samples) >= 0.5:
            self._heard, self._quiet = True, 0
        else:
            self._quiet += 1
        if len(self._frames) >= self._max_frames:
            self._stop("max_length")
        elif self._heard and self._quiet >= self._silence_frames:
            self._stop("silence")

    def _stop(self, reason: str) -> None:
        self.reason = reason
        self.stopped.set()

    def samples(self) -> Pcm:
        if not self._frames:
            return np.zeros(0, np.int16)
        return np.concatenate(self._frames)


class VoicemailBox:
    """Where voicemail WAVs go: `directory/<call id>-<n>.wav`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    async def save(self, call_id: str, pcm: Pcm) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id)[:100]

        def write() -> Path:
            self.directory.mkdir(parents=True, exist_ok=True)
            n = 0
            while (path := self.directory / f"{safe}-{n}.wav").exists():
                n += 1
            write_wav(path, pcm, 8000)
            return path

        return await asyncio.to_thread(write)
