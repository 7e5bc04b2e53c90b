"""After the call: the stereo WAV becomes Opus in Ogg, verified before the WAV goes.

Why Opus in Ogg through PyAV: PyAV (FFmpeg's libopus) is already installed with aiortc, so no
new native dependency; Opus at 8 kHz in VoIP mode holds at most 24 kbit/s for both sides (~17
measured) against the WAV's 256 kbit/s (a fifteenth of the disk), and Ogg Opus plays in every
browser's <audio> and in FFmpeg. The two sides are coded as independent mono streams (mapping
family 255, which Chromium and FFmpeg decode), so neither side is ever heard on the other's
channel. Ogg is written page by page, so a killed encoder leaves a file that is simply short:
the WAV is only removed after `compress()` decoded the new file back to within `TOLERANCE_S`
of the WAV's duration.

    result = compress(wav_path, opus_path)    # blocking: run in a thread
"""

from __future__ import annotations

import hashlib
import os
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

BITRATE = 24_000  # both channels: speech at 8 kHz needs little more
TOLERANCE_S = 0.1  # the decoded Opus may differ from the WAV by this much (padding)
BLOCK_FRAMES = 8000  # one second of the WAV per encoder call


class CompressionError(Exception):
    """The WAV could not be encoded, or the Opus file did not decode back to its length."""


@dataclass(frozen=True)
class Compressed:
    """The verified Opus file: where, how long it decodes to, its size and sha256."""

    path: Path
    duration: float
    size_bytes: int
    sha256: str


def wav_duration(path: Path) -> float:
    """Seconds of audio a PCM WAV holds (by its header)."""
    with wave.open(str(path)) as w:
        return float(w.getnframes() / w.getframerate())


def encode(wav: Path, out: Path, bitrate: int = BITRATE) -> None:
    """Encode the PCM WAV at `wav` as Opus in Ogg at `out` (replaced if it exists)."""
    try:
        with wave.open(str(wav)) as w:
            channels, rate, width = w.getnchannels(), w.getframerate(), w.getsampwidth()
            if width != 2:
                raise CompressionError(f"{wav.name}: expected 16-bit PCM, got {8 * width}-bit")
            layout = "stereo" if channels == 2 else "mono"
            fd = os.open(out, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
            os.close(fd)
            with av.open(str(out), "w", format="ogg") as container:
                # voip: tuned for speech, and the only mode that holds the bit rate on it
                # (the default 'audio' mode spent 42 kbit/s on speech asked for 24).
                options = {"application": "voip", "vbr": "constrained"}
                if channels == 2:
                    # Each side its own mono Opus stream (channel mapping family 255): coupled
                    # stereo leaked ~100 ms of one side's onset into the other at up to -18 dB
                    # (the agent's greeting heard on the caller's silent channel).
                    options["mapping_family"] = "255"
                stream = container.add_stream("libopus", rate=rate, options=options)
                stream.codec_context.layout = layout
                stream.codec_context.format = "s16"
                stream.codec_context.bit_rate = bitrate
                pts = 0
                while True:
                    data = w.readframes(BLOCK_FRAMES)
                    if not data:
                        break
                    pcm = np.frombuffer(data, "<i2").reshape(1, -1)
                    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
                    frame.sample_rate = rate
                    frame.pts = pts
                    pts += pcm.shape[1] // channels
                    for packet in stream.encode(frame):
                        container.mux(packet)
                for packet in stream.encode(None):
                    container.mux(packet)
    except (OSError, EOFError, wave.Error, RuntimeError, av.FFmpegError, ValueError) as exc:
        raise CompressionError(f"{wav.name}: cannot encode: {type(exc).__name__}") from exc


def decoded_duration(path: Path) -> float:
    """Seconds of audio PyAV decodes from `path` (every packet, not the container's claim)."""
    samples = 0
    rate = 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                samples += frame.samples
                rate = frame.sample_rate
    except (OSError, av.FFmpegError, ValueError) as exc:
        raise CompressionError(f"{path.name}: cannot decode: {type(exc).__name__}") from exc
    if rate == 0:
        raise CompressionError(f"{path.name}: no audio decoded")
    return samples / rate


def sha256_and_size(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def compress(wav: Path, out: Path) -> Compressed:
    """Encode `wav` to `out` and check it decodes back to the WAV's duration (within
    `TOLERANCE_S`); the WAV is left in place (the caller removes it once `out` is filed).
    A failed check removes `out` and raises `CompressionError`."""
    try:
        expected = wav_duration(wav)
    except (OSError, EOFError, wave.Error, RuntimeError) as exc:  # wave's bad chunk sizes
        raise CompressionError(f"{wav.name}: not a readable WAV ({type(exc).__name__})") from exc
    encode(wav, out)
    try:
        got = decoded_duration(out)
        if abs(got - expected) > TOLERANCE_S:
            raise CompressionError(
                f"{out.name}: decodes to {got:.3f} s, the WAV holds {expected:.3f} s")
    except CompressionError:
        out.unlink(missing_ok=True)
        raise
    sha, size = sha256_and_size(out)
    return Compressed(out, got, size, sha)
