"""RFC 4733 telephone-events: the event payload, a receiver and a sender.

One key press is one *event*, identified by its RTP timestamp: the sender repeats packets with
the same timestamp and a growing duration, sets the marker on the first one and sends the
final (end bit) packet three times. The receiver collapses that stream into exactly one
`DtmfDigit` per press, whatever was lost, duplicated or repeated.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from media.rtp.packet import RtpError

DIGITS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")
# Remember this many finished events so late or repeated end packets are not new presses.
_FINISHED_MEMORY = 8


@dataclass(slots=True, frozen=True)
class TelephoneEvent:
    """The 4-byte RFC 4733 payload. `duration` is in RTP timestamp units."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        if len(data) < 4:
            raise RtpError(f"telephone-event payload of {len(data)} bytes, needs 4")
        # Only the first block counts: RFC 2198 redundancy is not negotiated by this server.
        event, flags, duration = _EVENT.unpack_from(data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        if not 0 <= self.volume <= 63:
            raise RtpError(f"telephone-event volume {self.volume} out of 0..63")
        return _EVENT.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)

    @property
    def digit(self) -> str | None:
        """The DTMF character for events 0–15, else None."""
        return DIGITS[self.event] if self.event < 16 else None


@dataclass(slots=True, frozen=True)
class DtmfDigit:
    """One detected key press."""

    digit: str
    duration_ms: int


class DtmfReceiver:
    """Turns telephone-event packets into one `DtmfDigit` per key press.

    `feed()` returns the digits completed by that packet (usually none, at most two when the
    end of one press was lost and the next press has already begun). `flush()` completes a
    press whose end packets never came; the session calls it after a silence timeout.
    """

    def __init__(self, clock_rate: int = 8000) -> None:
        self._rate = clock_rate
        self._current: tuple[int, int] | None = None  # (timestamp, event code)
        self._duration = 0  # samples, including earlier segments of a long event
        self._base = 0  # duration of completed long-event segments
        self._finished: deque[int] = deque(maxlen=_FINISHED_MEMORY)

    @property
    def active(self) -> bool:
        """Whether a press has started and not ended."""
        return self._current is not None

    def feed(self, timestamp: int, payload: bytes, marker: bool = False) -> list[DtmfDigit]:
        event = TelephoneEvent.parse(payload)
        if event.event >= 16 or timestamp in self._finished:
            return []
        out: list[DtmfDigit] = []
        current = self._current
        if current is None or current[0] != timestamp:
            if (
                current is not None
                and not marker
                and current[1] == event.event
                and (timestamp - current[0]) & 0xFFFFFFFF == self._duration - self._base
            ):
                # A long event continues in a new segment (RFC 4733 §2.5.1.3).
                self._base = self._duration
            else:
                done = self.flush()
                if done is not None:
                    out.append(done)
                self._base = 0
            self._current = (timestamp, event.event)
        self._duration = max(self._duration, self._base + event.duration)
        if event.end:
            self._finished.append(timestamp)
            done = self.flush()
            if done is not None:
                out.append(done)
        return out

    def flush(self) -> DtmfDigit | None:
        """Finish the press in progress, if any, and return it."""
        current = self._current
        if current is None:
            return None
        self._finished.append(current[0])
        digit = DtmfDigit(DIGITS[current[1]], self._duration * 1000 // self._rate)
        self._current = None
        self._duration = self._base = 0
        return digit


@dataclass(slots=True, frozen=True)
class DtmfStep:
    """One packet of a digit: send `event` at `at` seconds after the press starts."""

    at: float
    event: TelephoneEvent
    marker: bool


def dtmf_steps(
    digit: str,
    duration_ms: int = 100,
    *,
    clock_rate: int = 8000,
    interval_ms: int = 50,
    volume: int = 10,
    end_repeats: int = 3,
    end_spacing_ms: int = 20,
) -> list[DtmfStep]:
    """The packet schedule for one key press (RFC 4733 §2.5.1).

    A start packet with the marker, an update every `interval_ms` carrying the duration so
    far, then the end packet `end_repeats` times, spaced so one burst of loss cannot take all
    of them. The caller gives all packets the same RTP timestamp and fresh sequence numbers.
    """
    code = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    if duration_ms <= 0:
        raise ValueError("DTMF duration must be positive")
    total = min(0xFFFF, duration_ms * clock_rate // 1000)
    steps = [DtmfStep(0.0, TelephoneEvent(code, False, volume, 0), True)]
    for at_ms in range(interval_ms, duration_ms, interval_ms):
        steps.append(
            DtmfStep(at_ms / 1000, TelephoneEvent(code, False, volume, at_ms * clock_rate // 1000),
                     False)
        )
    for i in range(end_repeats):
        steps.append(
            DtmfStep((duration_ms + i * end_spacing_ms) / 1000,
                     TelephoneEvent(code, True, volume, total), False)
        )
    return steps
