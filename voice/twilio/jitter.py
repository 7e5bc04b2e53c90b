"""The inbound buffer of a Media Streams leg: WebSocket chunks onto the 20 ms media clock.

A WebSocket is TCP: nothing is lost in transit, but chunks come in bursts (Twilio's edge,
proxies and the network all batch), and a chunk lost before Twilio shows as a jump in
`timestamp`. So chunks are placed by their timestamp (ms from the stream's start) into 20 ms
slots, and the clock takes one slot per tick:

- play-out starts once `PREFILL` slots are waiting (40 ms absorbs ordinary bursts);
- a slot with nothing while later slots wait was lost upstream: silence, counted (`gaps`);
- nothing waiting at all is an underrun (counted): play-out pauses until `PREFILL` slots
  wait again and goes on from the slot it was missing, so a burst that comes a tick late is
  played, not dropped;
- a chunk for a slot already played is late: dropped and counted (`late`); one for a slot
  already held is a duplicate (`duplicates`);
- more than `MAX_DEPTH` slots waiting (a socket that stalled, then flushed seconds of
  audio): the oldest go, counted (`overflow`); and while more than `PREFILL + 2` wait for
  `TRIM_AFTER` ticks in a row, one is dropped (counted in `overflow`), so the delay a flood
  left behind drains back to the prefill. Stale audio is worse than lost audio.

Nothing here awaits or reads a clock of its own: `push` stamps lateness with the time it is
given, and `pop` runs on the media tick.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SLOT_MS = 20
SLOT_BYTES = 160  # 20 ms of 8 kHz µ-law
PREFILL = 2
MAX_DEPTH = 10
#: Ticks with more than PREFILL + 2 slots waiting before one is dropped (0.5 s).
TRIM_AFTER = 25
#: Lateness samples kept for figures (about 80 s of one leg's chunks).
LATENESS_WINDOW = 4096


@dataclass(frozen=True, slots=True)
class JitterStats:
    """`pushed`: chunks taken; `played`: slots played with audio; `gaps`: slots played as
    silence because their chunk never came; `late`, `duplicates`, `overflow`: chunks dropped
    (see the module docstring); `underruns`: ticks with nothing to play once audio started."""

    pushed: int
    played: int
    gaps: int
    late: int
    duplicates: int
    overflow: int
    underruns: int


class InboundJitter:
    """Orders µ-law chunks by timestamp into 20 ms slots for the media tick."""

    def __init__(self, *, prefill: int = PREFILL, max_depth: int = MAX_DEPTH) -> None:
        self._prefill = prefill
        self._max_depth = max_depth
        self._slots: dict[int, bytes] = {}
        self._next = 0
        self._playing = False
        self._excess = 0
        # The earliest (arrival - slot time) seen: the schedule a chunk is late against.
        self._anchor: float | None = None
        self.lateness_ms: deque[float] = deque(maxlen=LATENESS_WINDOW)
        self.pushed = self.played = self.gaps = self.late = 0
        self.duplicates = self.overflow = self.underruns = 0

    def push(self, timestamp_ms: int, payload: bytes, arrived: float) -> None:
        """Take a chunk of µ-law that starts `timestamp_ms` into the stream, received at
        `arrived` (seconds, any monotonic clock)."""
        # Slots count from the stream's start (timestamp 0), not from the first chunk that
        # arrived: that one may itself be out of order.
        first = (timestamp_ms + SLOT_MS // 2) // SLOT_MS
        for i in range(0, max(len(payload), 1), SLOT_BYTES):
            piece = payload[i : i + SLOT_BYTES]
            if len(piece) < SLOT_BYTES:
                piece = piece + b"\xff" * (SLOT_BYTES - len(piece))  # µ-law silence
            self._put(first + i // SLOT_BYTES, piece, arrived)

    def _put(self, slot: int, piece: bytes, arrived: float) -> None:
        self.pushed += 1
        due = slot * SLOT_MS / 1000
        offset = arrived - due
        if self._anchor is None or offset < self._anchor:
            self._anchor = offset
        self.lateness_ms.append(1000 * (offset - self._anchor))
        if slot < self._next:
            self.late += 1
            return
        if slot in self._slots:
            self.duplicates += 1
            return
        self._slots[slot] = piece
        while len(self._slots) > self._max_depth:
            oldest = min(self._slots)
            del self._slots[oldest]
            self.overflow += 1
            self._next = max(self._next, oldest + 1)

    def pop(self) -> bytes | None:
        """The next 20 ms slot on the tick: its chunk, silence for a lost one, or None when
        there is nothing to play (not started, or an underrun)."""
        slots = self._slots
        if not self._playing:
            if len(slots) < self._prefill:
                return None
            self._playing = True
            self._next = max(self._next, min(slots))
        if len(slots) > self._prefill + 2:
            self._excess += 1
            if self._excess >= TRIM_AFTER:
                self._excess = 0
                oldest = min(slots)
                del slots[oldest]
                self.overflow += 1
                self._next = max(self._next, oldest + 1)
        else:
            self._excess = 0
        slot = self._next
        piece = slots.pop(slot, None)
        if piece is not None:
            self._next = slot + 1
            self.played += 1
            return piece
        if slots:
            self._next = slot + 1
            self.gaps += 1
            return b"\xff" * SLOT_BYTES
        # Nothing at all: pause until primed again, then go on from this slot (a chunk that
        # is only late comes in the next burst and is played).
        self._playing = False
        self.underruns += 1
        return None

    def __len__(self) -> int:
        return len(self._slots)

    def stats(self) -> JitterStats:
        return JitterStats(self.pushed, self.played, self.gaps, self.late, self.duplicates,
                           self.overflow, self.underruns)
