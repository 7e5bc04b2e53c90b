"""Receiver statistics for one remote source (RFC 3550 A.1, A.3, A.8) and the session figures.

`ReceptionStats.update()` runs for every received packet, so it is a handful of integer
operations on slots; the report-block arithmetic runs only when an RTCP report is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.rtp.rtcp import ReportBlock

_SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000
MAX_MISORDER = 100


class ReceptionStats:
    """Sequence, loss and interarrival-jitter accounting for one SSRC."""

    __slots__ = (
        "ssrc", "base_seq", "max_seq", "cycles", "bad_seq", "received", "expected_prior",
        "received_prior", "transit", "jitter", "_has_transit",
    )

    def __init__(self, ssrc: int, seq: int) -> None:
        self.ssrc = ssrc
        self.base_seq = seq
        self.max_seq = seq
        self.cycles = 0
        self.bad_seq = -1
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.transit = 0
        self.jitter = 0.0  # in RTP timestamp units, as RFC 3550 A.8 keeps it
        self._has_transit = False

    def update(self, seq: int) -> None:
        """Account one packet's sequence number (A.1, without the probation step)."""
        delta = (seq - self.max_seq) & 0xFFFF
        if delta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += _SEQ_MOD
            self.max_seq = seq
        elif delta <= _SEQ_MOD - MAX_MISORDER:
            # A big jump: believe it only when the next packet follows it (sender restart).
            if seq == self.bad_seq:
                self.base_seq = self.max_seq = seq
                self.cycles = 0
                self.received = self.expected_prior = self.received_prior = 0
                self._has_transit = False
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return
        # else: a duplicate or reordered packet, counted as received.
        self.received += 1

    def update_jitter(self, rtp_timestamp: int, arrival: int) -> None:
        """A.8: `arrival` is the arrival time in the same timestamp units."""
        transit = (arrival - rtp_timestamp) & 0xFFFFFFFF
        if self._has_transit:
            d = ((transit - self.transit + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            self.jitter += (abs(d) - self.jitter) / 16
        self.transit = transit
        self._has_transit = True

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        return self.expected - self.received

    def report_block(self, lsr: int = 0, dlsr: int = 0) -> ReportBlock:
        """A.3: the block for the next report; starts a new loss-fraction interval."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior = expected
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        return ReportBlock(
            self.ssrc, fraction, self.cumulative_lost, self.extended_max & 0xFFFFFFFF,
            int(self.jitter), lsr, dlsr,
        )


@dataclass(slots=True, frozen=True)
class RtpStats:
    """A snapshot of one session's figures.

    `lost` is network loss (expected − received, RFC 3550 A.3); `late`, `duplicates` and
    `dropped` come from the jitter buffer. The `remote_*` figures are what the peer last
    reported about our stream; `rtt_ms` is None until an LSR/DLSR pair made it measurable.
    """

    packets_sent: int
    bytes_sent: int
    packets_received: int
    bytes_received: int
    lost: int
    late: int
    duplicates: int
    dropped: int
    jitter_ms: float
    malformed: int
    rtcp_sent: int
    rtcp_received: int
    remote_fraction_lost: float
    remote_cumulative_lost: int
    remote_jitter_ms: float
    rtt_ms: float | None
    # Packets the kernel would not take (EAGAIN) or that hit a socket error: never sent.
    send_dropped: int = 0
