"""In-band DTMF detection (Goertzel bins over the 8 DTMF frequencies) for 8 kHz audio.

Lines that do not send RFC 4733 events (or send both) carry key presses as tones in the audio.
The detector looks at 20 ms windows (160 samples) every 10 ms. For each window it takes the
power at the 4 row and 4 column frequencies and at their second harmonics — the quantity a
Goertzel filter computes per bin — as one matrix product of the window against precomputed
cosine and sine rows. Running the Goertzel recursion sample by sample would be 160 Python steps
per window; the product is a single numpy call and gives the same bin powers.

A window holds a digit when all of these hold:

* level: both tones are above `min_level_dbfs` (sine amplitude relative to full scale);
* twist: the row (low) tone may be louder than the column (high) tone by at most
  `normal_twist_db`, and quieter by at most `reverse_twist_db`;
* other tones: in each group the strongest tone beats the runner-up by `relative_peak_db`;
* purity: the two tones make up at least `min_tone_fraction` of the window's energy — noise,
  speech and music spread their energy elsewhere;
* harmonics: neither tone has a second harmonic stronger than `max_harmonic_db` relative to
  it. Voiced speech is rich in harmonics; a DTMF generator is not;
* frequency: each tone is within `max_deviation` of nominal, measured from its phase advance
  between the window's halves (Q.24: accept ±1.5%, reject ±3.5%). Music plays notes a few
  percent off DTMF frequencies that pass every test above.

A press is reported once, when it ends, after it held for `min_on_windows` consecutive windows
(3 windows of 20 ms spaced 10 ms apart span 40 ms) and then was gone for `min_off_windows`
(a one-window dropout in noise does not split a press in two). The window is rectangular on
purpose: it resolves the 73 Hz row spacing and keeps the row tone's leakage out of the column
harmonics better than a tapered window of the same length.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from media.frames import AudioFrame, DtmfFrame, EndFrame, Frame, Pcm
from media.pipeline import FrameProcessor
from media.resample import Resampler

_F = npt.NDArray[np.float64]
_F32 = npt.NDArray[np.float32]

RATE = 8000
WINDOW = 160
HOP = 80
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")

# A key is accepted up to ±1.5% off its nominal frequencies (Q.24). A 20 ms bin is 50 Hz wide,
# so a tone 1.5% off (up to 25 Hz) would lose up to 4 dB in the nominal bin and fail the purity
# test; two extra bins at ±1% catch it, and taking the best of the three keeps the estimate
# within ~1 dB across the accepted band while tones 3.5% off still fall between bins.
_TONES = np.array(ROWS + COLS)
_BIN_HZ = RATE / WINDOW
_DEV = 0.01
_FREQS = np.concatenate((_TONES, _TONES * (1 - _DEV), _TONES * (1 + _DEV), 2 * _TONES))
_NF = len(_FREQS)
_n = np.arange(WINDOW)
_phase = 2 * np.pi * np.outer(_n, _FREQS) / RATE
# (WINDOW, 2 * _NF): cosine columns then sine columns.
_BASIS: _F = np.concatenate((np.cos(_phase), np.sin(_phase)), axis=1)


@lru_cache(maxsize=8)
def _strided_basis(m: int) -> _F:
    """Basis for m windows hopping HOP over (m + 1) * HOP samples, as one matrix.

    One vector-matrix product then projects every window of a chunk at once: numpy's call
    overhead, not arithmetic, dominates at this size, so fewer calls is what makes it cheap.
    """
    w = np.zeros(((m + 1) * HOP, m * 2 * _NF))
    for j in range(m):
        w[j * HOP : j * HOP + WINDOW, j * 2 * _NF : (j + 1) * 2 * _NF] = _BASIS
    w.flags.writeable = False
    return w


# A sine of amplitude A has bin power (A * WINDOW / 2)² and energy A² * WINDOW / 2 over the
# window, so bin power times 2 / WINDOW is the energy the tone contributes.
_ENERGY_SCALE = 2.0 / WINDOW


@dataclass(frozen=True, slots=True)
class DtmfThresholds:
    """Acceptance limits; the defaults pass ITU-T Q.24-style presses through G.711 and noise."""

    min_level_dbfs: float = -36.0
    normal_twist_db: float = 8.0
    reverse_twist_db: float = 6.0
    relative_peak_db: float = 8.0
    min_tone_fraction: float = 0.6
    max_harmonic_db: float = -10.0
    max_deviation: float = 0.025
    min_on_windows: int = 3
    min_off_windows: int = 2


# Half-window (HOP-sample) complex exponentials for the 8 tones, to measure their frequency.
_HALF: npt.NDArray[np.complex128] = np.exp(-2j * np.pi * np.outer(_TONES, np.arange(HOP)) / RATE)
_HALF_TURN: npt.NDArray[np.complex128] = np.exp(-2j * np.pi * _TONES * HOP / RATE)


def _deviation(x: _F, start: int, j: int) -> float:
    """Relative frequency error of tone j in the window of x starting at `start`.

    Music is full of notes a few percent from a DTMF frequency (G5 = 784 Hz vs 770 Hz) and a
    20 ms bin is too wide to tell them apart by power. The phase of tone j advances by
    2π·f·HOP/RATE from the first half-window to the second; what it advances beyond that is
    the frequency error (unambiguous within ±RATE/(2·HOP) = ±50 Hz).
    """
    first = complex(x[start : start + HOP] @ _HALF[j])
    second = complex(x[start + HOP : start + 2 * HOP] @ _HALF[j])
    turn = second * first.conjugate() * complex(_HALF_TURN[j])
    delta_hz = math.atan2(turn.imag, turn.real) * RATE / (2 * math.pi * HOP)
    return delta_hz / float(_TONES[j])


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """One detected press: the key and how long it was held."""

    digit: str
    duration_ms: int


class DtmfDetector:
    """Detects key presses in a stream of 8 kHz int16 audio, chunk by chunk."""

    def __init__(self, thresholds: DtmfThresholds | None = None) -> None:
        self.t = thresholds or DtmfThresholds()
        self._min_power = (WINDOW / 2 * 32768.0 * 10 ** (self.t.min_level_dbfs / 20)) ** 2
        self._peak_ratio = 10 ** (self.t.relative_peak_db / 10)
        self._harmonic_ratio = 10 ** (self.t.max_harmonic_db / 10)
        self._min_twist = 10 ** (-self.t.reverse_twist_db / 10)
        self._max_twist = 10 ** (self.t.normal_twist_db / 10)
        self._quiet = 2 * self._min_power * _ENERGY_SCALE
        self._pending: _F = np.zeros(0)
        self._last_block: _F = np.zeros(HOP)
        self._digit: str | None = None  # the press being held, once confirmed
        self._on = 0  # consecutive windows of the current candidate (or of the held digit)
        self._candidate: str | None = None
        self._off = 0

    def reset(self) -> None:
        """Drop buffered audio and any press in progress."""
        self.__init__(self.t)  # type: ignore[misc]

    def _classify(self, x: _F, proj: _F, totals: list[float]) -> list[str | None]:
        """The key each window holds, or None, from its bin projections and its energy.

        Nearly every window in a call is speech, noise or silence, so the cheap tests (level,
        purity) run first on all windows with as few numpy calls as possible — call overhead,
        not arithmetic, is the cost at this size — and the rest in plain Python on survivors.
        """
        m = len(totals)
        p = proj.reshape(m, 2, _NF)
        power = np.einsum("ijk,ijk->ik", p, p)  # cos² + sin²: bin power per frequency
        # Best of the three bins per tone, then the strongest row and column: (m, 2).
        peaks = power[:, :24].reshape(m, 3, 2, 4).max(axis=(1, 3)).tolist()
        keys: list[str | None] = [None] * m
        for i, ((rp, cp), total) in enumerate(zip(peaks, totals, strict=True)):
            if min(rp, cp) < self._min_power:
                continue
            if (rp + cp) * _ENERGY_SCALE < self.t.min_tone_fraction * total:
                continue
            keys[i] = self._check(power[i].tolist(), rp, cp, x, i * HOP)
        return keys

    def _check(self, bins: list[float], rp: float, cp: float, x: _F, start: int) -> str | None:
        """The remaining tests for a window that passed level and purity (rare: plain Python)."""
        t = self.t
        tones = [max(bins[j], bins[8 + j], bins[16 + j]) for j in range(8)]
        rows, cols = tones[:4], tones[4:]
        r, c = rows.index(rp), cols.index(cp)
        if not self._min_twist <= rp / cp <= self._max_twist:
            return None
        if sorted(rows)[2] * self._peak_ratio > rp or sorted(cols)[2] * self._peak_ratio > cp:
            return None
        if bins[28 + c] > cp * self._harmonic_ratio:
            return None
        # A row's second harmonic lies 58-71 Hz from the next column up, inside that
        # column's main lobe, so it is only judged when that column is not the one pressed.
        if abs(2 * ROWS[r] - COLS[c]) > 1.5 * _BIN_HZ and bins[24 + r] > rp * self._harmonic_ratio:
            return None
        if abs(_deviation(x, start, r)) > t.max_deviation:
            return None
        if abs(_deviation(x, start, 4 + c)) > t.max_deviation:
            return None
        return KEYS[r][c]

    def feed(self, pcm: Pcm) -> list[DtmfEvent]:
        """Analyse the next chunk; returns presses that ended within it."""
        x = pcm.astype(np.float64)
        if len(self._pending):
            x = np.concatenate((self._pending, x))
        m = len(x) // HOP
        self._pending = x[m * HOP :]
        if m == 0:
            return []
        # Each window is the previous HOP block plus the next; the stream starts after silence.
        x = np.concatenate((self._last_block, x[: m * HOP]))
        self._last_block = x[-HOP:]
        blocks = x.reshape(m + 1, HOP)
        energy = np.einsum("ij,ij->i", blocks, blocks).tolist()
        totals = [a + b for a, b in zip(energy, energy[1:], strict=False)]
        if max(totals) < self._quiet:
            # Too quiet to hold two tones at the minimum level: skip the projection.
            keys: list[str | None] = [None] * m
        else:
            keys = self._classify(x, x @ _strided_basis(m), totals)
        events: list[DtmfEvent] = []
        for key in keys:
            ev = self._step(key)
            if ev is not None:
                events.append(ev)
        return events

    def flush(self) -> list[DtmfEvent]:
        """End of stream: report a press still being held."""
        ev = self._release() if self._digit is not None else None
        self._pending = np.zeros(0)
        self._last_block = np.zeros(HOP)
        self._candidate, self._on = None, 0
        return [ev] if ev else []

    def _step(self, key: str | None) -> DtmfEvent | None:
        if self._digit is not None:
            if key == self._digit:
                self._on += 1
                self._off = 0
                return None
            self._off += 1
            if self._off < self.t.min_off_windows:
                return None
            ev = self._release()
            # A different key seen while releasing starts counting as a new candidate.
            self._candidate, self._on = key, (1 if key else 0)
            return ev
        if key is None or key != self._candidate:
            self._candidate, self._on = key, (1 if key else 0)
        else:
            self._on += 1
        if key is not None and self._on >= self.t.min_on_windows:
            self._digit, self._off = key, 0
        return None

    def _release(self) -> DtmfEvent:
        assert self._digit is not None
        ev = DtmfEvent(self._digit, (self._on - 1) * HOP * 1000 // RATE + WINDOW * 1000 // RATE)
        self._digit, self._off = None, 0
        return ev


EventSink = Callable[[list[DtmfEvent]], None]
# The bank screens windows on the tone bins only (nominal and ±1%, cosine then sine: 48
# columns); the second harmonics are needed for the rare window that passes the screen.
_SCREEN_COLS = [*range(3 * 8), *range(_NF, _NF + 3 * 8)]
_SCREEN32 = np.ascontiguousarray(_BASIS[:, _SCREEN_COLS], dtype=np.float32)
_SCREEN32.flags.writeable = False
# Windows per product. Above ~1M multiply-adds (OpenBLAS 0.3.31 here; older builds went
# parallel sooner) a product goes to OpenBLAS's worker threads, which then spin between
# ticks: measured 12-20 ms of CPU per tick for one product of 800 windows, ~0.35 ms in
# products of 32-128 windows. 32 x 160 x 48 = 245,760 stays below the 262,144 that
# OpenBLAS's gemm documents as its smallest threaded size.
_ROWS_PER_PRODUCT = 32
_INITIAL_SLOTS = 64


class _BankedDetector(DtmfDetector):
    """A detector whose previous HOP samples live in a row of its bank's array, so the bank
    gathers and stores them for all legs in one operation a tick instead of one per leg."""

    def __init__(self, bank: InbandDtmfBank, slot: int) -> None:
        self._bank = bank
        self._slot = slot
        super().__init__(bank.t)

    @property  # type: ignore[override]
    def _last_block(self) -> _F:
        row: _F = self._bank._last[self._slot].astype(np.float64)
        return row

    @_last_block.setter
    def _last_block(self, value: _F) -> None:
        self._bank._last[self._slot] = value

    def reset(self) -> None:
        DtmfDetector.__init__(self, self.t)


class InbandDtmfBank:
    """Runs the detectors of every leg as one batch per media tick.

    Per leg and frame, `DtmfDetector.feed` costs ~5 µs quiet and ~13 µs loud, nearly all numpy
    call overhead on 160 samples; at 400 calls that was a third of the server's CPU. Legs
    `push()` their frame during the tick and the ticker calls `flush()` once after all legs:
    one gather of every leg's previous block (kept in one array, a row per detector), one
    energy pass, one float32 projection of every loud window on the tone bins, the level and
    purity tests as array operations, and only the rare window that passes them is projected
    again in float64 (harmonics included) and goes through the same tests as `feed`.
    Decisions equal `feed`'s on 20 ms frames (the float32 screen changes bin powers by ~1e-6
    relative). A detector the bank did not make, a frame of another size or a detector
    holding a partial block goes through `feed` directly.
    """

    def __init__(self, thresholds: DtmfThresholds | None = None) -> None:
        self.t = thresholds or DtmfThresholds()
        self._limits = DtmfDetector(self.t)
        # float32 holds every int16 sample exactly; the float64 tests recompute from it.
        self._last: _F32 = np.zeros((_INITIAL_SLOTS, HOP), np.float32)
        self._free: list[int] = list(range(_INITIAL_SLOTS - 1, -1, -1))
        self._dets: list[_BankedDetector] = []
        self._slots: list[int] = []
        self._pcms: list[Pcm] = []
        self._sinks: list[EventSink] = []

    def detector(self) -> DtmfDetector:
        """A detector this bank batches (it shares the bank's thresholds); its row is given
        back when the detector is garbage."""
        if not self._free:
            grown = len(self._last) * 2
            last = np.zeros((grown, HOP), np.float32)
            last[: len(self._last)] = self._last
            self._free.extend(range(grown - 1, len(self._last) - 1, -1))
            self._last = last
        slot = self._free.pop()
        det = _BankedDetector(self, slot)
        weakref.finalize(det, self._free.append, slot).atexit = False
        return det

    def push(self, detector: DtmfDetector, pcm: Pcm, sink: EventSink) -> None:
        """Queue one 20 ms frame; `sink(events)` runs in `flush()` when presses end."""
        if (type(detector) is not _BankedDetector or detector._bank is not self
                or len(pcm) != WINDOW or len(detector._pending)):
            events = detector.feed(pcm)
            if events:
                sink(events)
            return
        self._dets.append(detector)
        self._slots.append(detector._slot)
        self._pcms.append(pcm)
        self._sinks.append(sink)

    def flush(self) -> None:
        """Analyse every queued frame (two windows each) and step each detector."""
        dets, sinks = self._dets, self._sinks
        n = len(dets)
        if n == 0:
            return
        slots = np.array(self._slots)
        pcm = np.concatenate(self._pcms)
        self._dets, self._slots, self._pcms, self._sinks = [], [], [], []
        lim = self._limits
        x = np.empty((n, HOP + WINDOW), np.float32)
        x[:, :HOP] = self._last.take(slots, axis=0)
        x[:, HOP:] = pcm.reshape(n, WINDOW)
        self._last[slots] = x[:, WINDOW:]
        blocks = x.reshape(n, 3, HOP)
        energy = np.einsum("ijk,ijk->ij", blocks, blocks)
        totals = energy[:, :2] + energy[:, 1:]  # (n, 2): the frame's two windows
        keys: dict[int, list[str | None]] = {}
        loud = np.flatnonzero(totals.max(axis=1) >= lim._quiet)
        if len(loud):
            xl = x[loud] if len(loud) < n else x
            # (windows, 2, 48): each row's two windows, projected straight from the row.
            pairs = np.empty((len(loud), 2, len(_SCREEN_COLS)), np.float32)
            for i in range(0, len(loud), _ROWS_PER_PRODUCT):
                rows = xl[i : i + _ROWS_PER_PRODUCT]
                np.matmul(rows[:, :WINDOW], _SCREEN32, out=pairs[i : i + _ROWS_PER_PRODUCT, 0])
                np.matmul(rows[:, HOP:], _SCREEN32, out=pairs[i : i + _ROWS_PER_PRODUCT, 1])
            proj = pairs.reshape(-1, len(_SCREEN_COLS))
            np.square(proj, out=proj)
            power = proj[:, :24] + proj[:, 24:]  # nominal, -1%, +1% bins of the 8 tones
            best = np.maximum(power[:, :8], power[:, 8:16])
            np.maximum(best, power[:, 16:], out=best)
            rp = np.maximum(np.maximum(best[:, 0], best[:, 1]), np.maximum(best[:, 2], best[:, 3]))
            cp = np.maximum(np.maximum(best[:, 4], best[:, 5]), np.maximum(best[:, 6], best[:, 7]))
            tot = totals[loud].reshape(-1)
            passed = (np.minimum(rp, cp) >= lim._min_power) & (
                (rp + cp) * _ENERGY_SCALE >= self.t.min_tone_fraction * tot
            )
            for k in np.flatnonzero(passed).tolist():
                row, half = int(loud[k // 2]), k % 2
                key = self._check(x[row].astype(np.float64), half * HOP)
                keys.setdefault(row, [None, None])[half] = key
        idle = (None, None)
        for i, det in enumerate(dets):
            pair = keys.get(i, idle)
            if det._digit is None and det._candidate is None and pair is idle:
                continue  # stepping None from idle changes nothing
            events: list[DtmfEvent] = []
            for key in pair:
                ev = det._step(key)
                if ev is not None:
                    events.append(ev)
            if events:
                sinks[i](events)

    def _check(self, x: _F, start: int) -> str | None:
        """The window of x at `start` passed the float32 screen: every test again in float64,
        by the detector's own `_classify` on that one window."""
        window = x[start : start + WINDOW]
        return self._limits._classify(window, (window @ _BASIS)[None, :], [float(window @ window)])[0]


class InbandDtmfProcessor(FrameProcessor):
    """Passes audio on unchanged and pushes a `DtmfFrame(source="inband")` after each press.

    16 kHz audio is analysed through its own 8 kHz resampler; the audio pushed on keeps its
    original rate.
    """

    def __init__(self, thresholds: DtmfThresholds | None = None) -> None:
        super().__init__()
        self.detector = DtmfDetector(thresholds)
        self._down: Resampler | None = None

    async def process_frame(self, frame: Frame) -> None:
        events: list[DtmfEvent] = []
        if isinstance(frame, AudioFrame):
            pcm = frame.samples
            if frame.sample_rate != RATE:
                if self._down is None:
                    self._down = Resampler(frame.sample_rate, RATE)
                pcm = self._down.process(pcm)
            events = self.detector.feed(pcm)
            await self.push_frame(frame)
        elif isinstance(frame, EndFrame):
            for ev in self.detector.flush():
                await self.push_frame(DtmfFrame(ev.digit, ev.duration_ms, "inband"))
            await self.push_frame(frame)
            return
        else:
            await self.push_frame(frame)
        for ev in events:
            await self.push_frame(DtmfFrame(ev.digit, ev.duration_ms, "inband"))
