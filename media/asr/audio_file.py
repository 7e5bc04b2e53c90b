"""Audio files for the recognisers: any WAV (or anything else FFmpeg decodes) as 16-bit mono
PCM at 8000 or 16000 Hz, read a piece at a time.

Recordings arrive as they were made: 44.1 or 48 kHz, stereo, 24-bit or float, µ-law or A-law
WAV from a PBX. PyAV (FFmpeg's decoders and libswresample; installed with aiortc) decodes
them and converts: channels are mixed down to one, and the rate is resampled with
swresample's filter to 16 kHz (or 8 kHz when the source has no more than telephone band).
Audio already at 8 or 16 kHz, 16-bit mono passes through sample for sample.

Reading is incremental, so a long recording is never held whole: `AudioFile.chunks()` yields
what each decoded packet gives, and the caller paces itself (`AsrStream.write`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from media.frames import SAMPLE_RATES, Pcm


class AudioFileError(ValueError):
    """A file that cannot be read as audio; the message names the file and why."""


def target_rate(rate: int) -> int:
    """The recogniser rate for a source at `rate`: itself if 8/16 kHz, 8 kHz for narrower
    sources (nothing above 4 kHz to keep), 16 kHz otherwise (what whisper models use)."""
    if rate in SAMPLE_RATES:
        return rate
    return 8000 if rate < 16000 else 16000


@dataclass(frozen=True)
class AudioInfo:
    """What the file holds, and what it is converted to."""

    codec: str
    rate: int
    channels: int
    duration_s: float | None  # from the header; None when the container does not say
    out_rate: int

    @property
    def converted(self) -> bool:
        return self.rate != self.out_rate or self.channels != 1 or self.codec != "pcm_s16le"

    def describe(self) -> str:
        """"44100 Hz 2-channel pcm_s24le -> 16000 Hz mono" (for the person who asked)."""
        return (f"{self.rate} Hz {self.channels}-channel {self.codec} -> "
                f"{self.out_rate} Hz mono 16-bit")


class AudioFile:
    """An open audio file: `info`, then `chunks()` of int16 mono at `info.out_rate`.

        with AudioFile(path) as audio:
            for pcm in audio.chunks():
                ...
    """

    def __init__(self, path: Path) -> None:
        import av

        self.path = path
        try:
            self._container: Any = av.open(str(path))
        except (OSError, av.error.FFmpegError) as exc:
            raise AudioFileError(f"{path}: cannot read WAV: {_reason(exc)}") from exc
        streams = self._container.streams.audio
        if not streams:
            self._container.close()
            raise AudioFileError(f"{path}: cannot read WAV: it holds no audio stream")
        self._stream = streams[0]
        ctx = self._stream.codec_context
        rate = int(ctx.sample_rate or 0)
        channels = int(ctx.channels or 0)
        if rate <= 0 or channels <= 0:
            self._container.close()
            raise AudioFileError(f"{path}: cannot read WAV: no sample rate or channel count")
        duration = None
        if self._stream.duration is not None and self._stream.time_base is not None:
            duration = float(self._stream.duration * self._stream.time_base)
        self.info = AudioInfo(str(ctx.name), rate, channels, duration, target_rate(rate))

    def chunks(self) -> Iterator[Pcm]:
        """The audio, converted, a decoded packet at a time (the resampler's tail last)."""
        import av

        resampler = av.AudioResampler(format="s16", layout="mono", rate=self.info.out_rate)
        try:
            for frame in self._container.decode(self._stream):
                for out in resampler.resample(frame):
                    yield _mono(out)
            for out in resampler.resample(None):
                yield _mono(out)
        except av.error.FFmpegError as exc:
            raise AudioFileError(f"{self.path}: cannot decode: {_reason(exc)}") from exc

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> AudioFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _mono(frame: Any) -> Pcm:
    pcm: Pcm = np.ascontiguousarray(frame.to_ndarray().reshape(-1), dtype=np.int16)
    return pcm


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text)
