"""Reading the server's `GET /api/debug/calls` and the audio it points at."""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tests.helpers.server import ServerProcess

Samples = npt.NDArray[np.float64]
ENDED = "ended"  # voice.call.CallState.ENDED


async def wait_for_call(
    server: ServerProcess,
    call_id_prefix: str,
    *,
    ended: bool = False,
    within: float = 8.0,
) -> dict[str, Any]:
    """The debug record of the call whose Call-ID starts with the prefix (SIPp `-cid_str`).

    With `ended`, waits until its state is "ended" (and its decoded audio, if any, is written).
    """
    deadline = time.monotonic() + within
    seen: list[dict[str, Any]] = []
    while True:
        seen = await server.debug_calls()
        mine = [c for c in seen if str(c.get("call_id", "")).startswith(call_id_prefix)]
        if mine:
            call = mine[-1]
            wav = call.get("decoded_audio_wav")
            if not ended:
                return call
            if call.get("state") == ENDED and (
                not wav or await asyncio.to_thread(Path(str(wav)).is_file)
            ):
                return call
        if time.monotonic() > deadline:
            summary = [(c.get("call_id"), c.get("state")) for c in seen[-10:]]
            raise AssertionError(
                f"no {'ended ' if ended else ''}call {call_id_prefix}* in /api/debug/calls "
                f"after {within:g}s; last calls: {summary}"
            )
        await asyncio.sleep(0.2)


def read_wav_mono(path: Path) -> tuple[Samples, int]:
    """A 16-bit PCM mono WAV as float samples and its rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise AssertionError(
                f"{path}: expected 16-bit mono PCM, got {wav.getsampwidth() * 8}-bit "
                f"x{wav.getnchannels()}"
            )
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.astype(np.float64), rate


def best_alignment(reference: Samples, recorded: Samples) -> tuple[float, int]:
    """Pearson correlation of `reference` with the `recorded` stretch it best lines up with.

    The lag comes from the peak of the FFT cross-correlation; the correlation is then
    computed on the overlap at that lag (missing recorded samples count as zeros).
    """
    if len(recorded) == 0 or len(reference) == 0:
        return 0.0, 0
    n = len(reference) + len(recorded)
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size))
    xcorr = np.fft.irfft(spectrum, size)
    # Lags 0..len(recorded)-1 are "recorded is late"; the tail holds negative lags.
    lags = np.concatenate([np.arange(0, len(recorded)), np.arange(-len(reference) + 1, 0)])
    values = np.concatenate([xcorr[: len(recorded)], xcorr[size - len(reference) + 1:]])
    lag = int(lags[int(np.argmax(values))])
    segment = np.zeros(len(reference))
    start = max(lag, 0)
    stop = min(lag + len(reference), len(recorded))
    if stop > start:
        segment[start - lag: stop - lag] = recorded[start:stop]
    if not segment.any():
        return 0.0, lag
    return float(np.corrcoef(reference, segment)[0, 1]), lag


def piecewise_alignment(
    reference: Samples, recorded: Samples, piece_s: float = 0.5, rate: int = 8000
) -> list[tuple[float, int]]:
    """`best_alignment` of each voiced `piece_s` piece of `reference` on its own, in order.

    A receiver's adaptive jitter buffer (PJSIP's, under CPU load) may drop or repeat a
    20 ms frame: the audio is still exact, but one window over the whole stream is then
    misaligned from that point on. Pieces quieter than a tenth of the loudest are skipped
    (silence correlates with nothing). Returns (correlation, lag in samples) per piece, the
    lag relative to where the piece starts in `reference`.
    """
    size = int(piece_s * rate)
    starts = range(0, len(reference) - size + 1, size)
    levels = {start: float(np.sqrt(np.mean(reference[start: start + size] ** 2))) for start in starts}
    loudest = max(levels.values(), default=0.0)
    found = []
    for start, level in levels.items():
        if level >= 0.1 * loudest > 0:
            corr, at = best_alignment(reference[start: start + size], recorded)
            found.append((corr, at - start))
    return found


def assert_exact_audio_in_order(
    reference: Samples, recorded: Samples, *, exact: float = 0.99, rate: int = 8000,
    piece_s: float = 0.5,
) -> list[int]:
    """`recorded` carries `reference` sample-exact, in order, allowing a few frame slips.

    At least two thirds of the voiced `piece_s` pieces must correlate >= `exact` (a piece
    straddling a slip correlates less), and the lags of those pieces must drift by less than
    a quarter second in all: a wrong codec, lost stretches or reordered audio fail.
    Returns the lags (samples) of the pieces that matched.
    """
    found = piecewise_alignment(reference, recorded, piece_s, rate)
    assert len(found) >= 3, f"only {len(found)} voiced pieces in the reference"
    good = [(corr, lag) for corr, lag in found if corr >= exact]
    summary = ", ".join(f"{corr:.3f}@{lag}" for corr, lag in found)
    assert len(good) * 3 >= len(found) * 2, f"pieces (correlation@lag): {summary}"
    lags = [lag for _, lag in good]
    assert max(lags) - min(lags) < rate // 4, f"pieces drift apart: {summary}"
    return lags


def frame_rms(samples: Samples, frame: int = 160) -> Samples:
    """RMS per 20 ms frame (8 kHz)."""
    count = len(samples) // frame
    if count == 0:
        return np.zeros(0)
    frames = samples[: count * frame].reshape(count, frame)
    return np.asarray(np.sqrt((frames**2).mean(axis=1)), dtype=np.float64)
