"""Text to speech with espeak-ng, cached on disk.

    tts = EspeakTts(data_dir / "tts")
    pcm = await tts.synthesize("Welcome to Centralita", voice="en-us", rate=160)

espeak-ng runs as an asyncio subprocess (never on the event loop) and writes a 22.05 kHz WAV to
stdout; the text goes in on stdin so that it never shows in the process list. The audio is
brought to 16 kHz here (a windowed-sinc fractional resampler: media.resample only knows
8 ↔ 16 kHz) and to 8 kHz by `media.resample`.

Cache: one 8 kHz WAV per sha256 of (voice, rate, text), written atomically, loaded through
`media.player.load_prompt` so every call saying the same prompt shares one read-only array.
`cache=False` synthesizes without touching the disk: renders of sensitive steps must never be
kept. Two calls asking for the same uncached prompt at once share one synthesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import struct
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media.frames import Pcm
from media.player import load_prompt
from media.resample import resample

log = logging.getLogger(__name__)

DEFAULT_VOICE = "en-us"
DEFAULT_RATE = 160
OUTPUT_RATE = 8000
# espeak-ng speaks a sentence in well under a second; a wedged process must not hold a call.
SYNTH_TIMEOUT_S = 20.0
# Prompts are sentences, not books: bounded so a runaway variable cannot synthesize minutes.
MAX_TEXT_CHARS = 2000


class TtsError(Exception):
    """Synthesis failed (espeak-ng missing, exited non-zero, timed out, or bad output)."""


def cache_key(voice: str, rate: int, text: str) -> str:
    """The cache file stem for one (voice, rate, text)."""
    raw = f"{voice}\x00{rate}\x00{text}".encode()
    return hashlib.sha256(raw).hexdigest()


def parse_wav_stream(data: bytes) -> tuple[Pcm, int]:
    """Samples and rate of espeak-ng's stdout WAV (its sizes are unset when streaming, so
    the data chunk runs to the end of the bytes)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TtsError("espeak-ng did not write a WAV")
    pos, rate, width, channels = 12, 0, 0, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            _fmt, channels, rate = struct.unpack("<HHI", data[body : body + 8])
            width = struct.unpack("<H", data[body + 14 : body + 16])[0] // 8
        elif chunk == b"data":
            if rate == 0 or width != 2 or channels != 1:
                raise TtsError("espeak-ng wrote a WAV that is not mono 16-bit")
            end = len(data) if size in (0, 0xFFFFFFFF) else min(len(data), body + size)
            end -= (end - body) % 2
            pcm: Pcm = np.frombuffer(data[body:end], dtype="<i2").astype(np.int16)
            return pcm, rate
        pos = body + size + (size & 1)
    raise TtsError("espeak-ng's WAV has no data chunk")


def resample_fractional(pcm: Pcm, from_rate: int, to_rate: int, half_taps: int = 24) -> Pcm:
    """Any rate to a lower one (22050 → 16000): windowed-sinc interpolation at each output
    instant, low-passed at 95% of the output Nyquist. For whole prompts, not live streams."""
    if from_rate == to_rate or len(pcm) == 0:
        return pcm
    ratio = to_rate / from_rate
    n_out = int(len(pcm) * ratio)
    t = np.arange(n_out) / ratio  # output instants, in input samples
    base = np.floor(t).astype(np.int64)
    offsets = np.arange(-half_taps + 1, half_taps + 1)
    idx = base[:, None] + offsets[None, :]
    x = (t - base)[:, None] - offsets[None, :]  # distance from each tap, input samples
    cutoff = 0.95 * min(1.0, ratio)  # of the input Nyquist
    weights: npt.NDArray[np.float64] = cutoff * np.sinc(cutoff * x) * np.kaiser(
        2 * half_taps, 8.0
    )[None, :]
    padded = np.concatenate((np.zeros(half_taps), pcm.astype(np.float64), np.zeros(half_taps)))
    y = (padded[idx + half_taps] * weights).sum(axis=1)
    out: Pcm = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
    return out


def to_telephone_rate(pcm: Pcm, rate: int) -> Pcm:
    """Bring espeak-ng's audio to 8 kHz (via 16 kHz, the rate media.resample starts from)."""
    if rate not in (8000, 16000):
        pcm, rate = resample_fractional(pcm, rate, 16000), 16000
    return resample(pcm, rate, OUTPUT_RATE) if rate != OUTPUT_RATE else pcm


def write_wav(path: Path, pcm: Pcm, rate: int) -> None:
    """Write mono 16-bit WAV atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    os.replace(tmp, path)


class EspeakTts:
    """espeak-ng synthesis with an on-disk cache under `cache_dir`."""

    def __init__(self, cache_dir: Path, *, executable: str = "espeak-ng") -> None:
        self.cache_dir = Path(cache_dir)
        self.executable = executable
        self.hits = 0
        self.misses = 0
        self._inflight: dict[str, asyncio.Future[Pcm]] = {}

    def cached_path(self, text: str, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE) -> Path:
        """Where the prompt for (voice, rate, text) is (or would be) cached."""
        return self.cache_dir / f"{cache_key(voice, rate, text)}.wav"

    async def synthesize(
        self, text: str, *, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE,
        cache: bool = True,
    ) -> Pcm:
        """8 kHz read-only samples of `text` spoken. `cache=False` never touches the disk."""
        if not text.strip():
            raise TtsError("nothing to say")
        if len(text) > MAX_TEXT_CHARS:
            raise TtsError(f"text longer than {MAX_TEXT_CHARS} characters")
        if not cache:
            pcm = await self._synth(text, voice, rate)
            pcm.flags.writeable = False
            return pcm
        path = self.cached_path(text, voice, rate)
        if path.exists():
            self.hits += 1
            return await asyncio.to_thread(load_prompt, path, OUTPUT_RATE)
        key = path.stem
        pending = self._inflight.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending)
        self.misses += 1
        fut: asyncio.Future[Pcm] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            pcm = await self._synth(text, voice, rate)
            await asyncio.to_thread(self._store, path, pcm)
            shared = await asyncio.to_thread(load_prompt, path, OUTPUT_RATE)
        except BaseException as exc:
            fut.set_exception(exc)
            # Waiters get the error; nobody may be waiting, so mark it retrieved.
            with contextlib.suppress(BaseException):
                fut.exception()
            raise
        finally:
            del self._inflight[key]
        fut.set_result(shared)
        return shared

    def _store(self, path: Path, pcm: Pcm) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, pcm, OUTPUT_RATE)

    async def _synth(self, text: str, voice: str, rate: int) -> Pcm:
        try:
            proc = await asyncio.create_subprocess_exec(
                self.executable, "-v", voice, "-s", str(rate), "--stdout", "--stdin",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise TtsError(f"cannot run {self.executable}: {exc.strerror}") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(text.encode()), SYNTH_TIMEOUT_S)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise TtsError(f"{self.executable} timed out") from exc
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            # stderr names the voice or option; it never echoes the text.
            raise TtsError(
                f"{self.executable} exited {proc.returncode}: {err.decode(errors='replace')[:200]}"
            )
        pcm, src_rate = parse_wav_stream(out)
        return await asyncio.to_thread(to_telephone_rate, pcm, src_rate)
