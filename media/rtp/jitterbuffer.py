"""A fixed-size jitter buffer played out one packet per 20 ms tick.

Packets sit in a ring indexed by extended sequence number, so insertion, reordering and
playout are O(1) with no sorting. The buffer holds back `delay_ticks` ticks after the first
packet (the playout delay) and then plays one slot per `pop()`:

* a slot whose packet arrived is played;
* an empty slot with later packets already here is a loss (counted, `None` returned);
* an empty slot with nothing after it is an underrun: the buffer waits instead of skipping,
  so a sender that pauses (hold, silence suppression) is not counted as losing packets.

A packet for a slot already played is *late* (it had been given up as lost) or a
*duplicate* (the slot had been played from a copy). Stale audio is worse than lost audio: when
a packet lands more than `capacity` slots ahead, the oldest slots are dropped (counted).
A new SSRC or a confirmed jump of the sequence resets the buffer (RFC 3550 A.1 rules).
"""

from __future__ import annotations

from dataclasses import dataclass

from media.rtp.packet import RtpPacket

MAX_DROPOUT = 3000
MAX_MISORDER = 100

# Marks a slot filled by a packet that is not audio (a telephone-event sharing the stream's
# sequence space): playout steps over it without spending a tick or counting a loss.
_SKIP = RtpPacket(0, 0, 0, 0)


@dataclass(slots=True)
class JitterStats:
    """Counters since the buffer was made (they survive resets)."""

    played: int = 0
    lost: int = 0
    late: int = 0
    duplicates: int = 0
    dropped: int = 0
    underruns: int = 0
    resets: int = 0


class JitterBuffer:
    """Reorders RTP packets and hands out one per `pop()` (call it once per packet time).

    `capacity` is in packets; `delay_ms / ptime_ms` gives the playout delay in ticks
    (e.g. 60 ms at 20 ms packets = 3 ticks).
    """

    def __init__(self, capacity: int = 32, delay_ms: int = 60, ptime_ms: int = 20) -> None:
        if capacity < 2:
            raise ValueError("jitter buffer capacity must be at least 2")
        self.capacity = capacity
        self.delay_ticks = max(0, delay_ms // ptime_ms)
        if self.delay_ticks >= capacity:
            raise ValueError("playout delay must be shorter than the buffer")
        self.stats = JitterStats()
        self._ring: list[RtpPacket | None] = [None] * capacity
        # Extended seq of the last packet played from each ring position (for duplicates).
        self._played: list[int] = [-1] * capacity
        self._ssrc: int | None = None
        self._next = 0  # extended seq of the next slot to play
        self._max = 0  # highest extended seq received
        self._prefetch = 0
        self._bad_seq: int | None = None
        self._bad_packet: tuple[RtpPacket, bool] | None = None

    def __len__(self) -> int:
        return sum(1 for p in self._ring if p is not None and p is not _SKIP)

    def reset(self) -> None:
        """Forget everything buffered; the next packet starts a new stream."""
        self._ring = [None] * self.capacity
        self._played = [-1] * self.capacity
        self._ssrc = None
        self._bad_seq = None
        self._bad_packet = None

    def put(self, packet: RtpPacket, audio: bool = True) -> None:
        """Store a received packet. `audio=False` only reserves its sequence slot."""
        seq = packet.sequence_number
        if packet.ssrc != self._ssrc:
            if self._ssrc is not None:
                self.stats.resets += 1
                self.reset()
            self._start(packet.ssrc, seq)
        delta = ((seq - self._max + 0x8000) & 0xFFFF) - 0x8000
        if delta > MAX_DROPOUT or delta < -MAX_MISORDER:
            # A jump: one stray packet is ignored, two in sequence mean the sender restarted.
            if self._bad_seq != seq:
                self._bad_seq = (seq + 1) & 0xFFFF
                self._bad_packet = (packet, audio)
                return
            stray = self._bad_packet
            self.stats.resets += 1
            self.reset()
            if stray is not None:
                self.put(*stray)
            else:
                self._start(packet.ssrc, seq)
            delta = ((seq - self._max + 0x8000) & 0xFFFF) - 0x8000
        self._bad_seq = None
        self._bad_packet = None
        ext = self._max + delta
        cap = self.capacity
        if ext < self._next and self._prefetch and self._max - ext < cap:
            # Still filling: a packet older than the first one moves the start back.
            self._next = ext
        if ext < self._next:
            if self._played[ext % cap] == ext:
                self.stats.duplicates += 1
            else:
                self.stats.late += 1
            return
        if ext >= self._next + cap:
            self._drop_until(ext - cap + 1)
        index = ext % cap
        held = self._ring[index]
        if held is not None:
            self.stats.duplicates += 1
            return
        self._ring[index] = packet if audio else _SKIP
        if ext > self._max:
            self._max = ext

    def pop(self) -> RtpPacket | None:
        """The packet for this tick, or None (not started, prefetching, lost or underrun)."""
        if self._ssrc is None:
            return None
        if self._prefetch:
            self._prefetch -= 1
            return None
        ring = self._ring
        cap = self.capacity
        while self._next <= self._max:
            index = self._next % cap
            packet = ring[index]
            ring[index] = None
            self._next += 1
            if packet is _SKIP:
                continue
            if packet is None:
                self.stats.lost += 1
                return None
            self._played[index] = self._next - 1
            self.stats.played += 1
            return packet
        self.stats.underruns += 1
        return None

    def _start(self, ssrc: int, seq: int) -> None:
        self._ssrc = ssrc
        # Extended seqs start one cycle up so packets reordered before the first stay >= 0.
        self._next = self._max = 0x10000 + seq
        self._prefetch = self.delay_ticks

    def _drop_until(self, new_next: int) -> None:
        ring = self._ring
        cap = self.capacity
        while self._next < new_next:
            index = self._next % cap
            packet = ring[index]
            if packet is None:
                self.stats.lost += 1
            elif packet is not _SKIP:
                self.stats.dropped += 1
            ring[index] = None
            self._next += 1
