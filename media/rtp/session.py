"""One RTP/RTCP session on asyncio: a UDP port pair, send and receive paths, DTMF, reports.

The per-packet paths are what 400 concurrent calls pay 40,000 times a second, so they avoid
allocations beyond the packet itself, never log, never create tasks, and read the clock once.
Everything timed (RTCP reports, DTMF packet pacing, the DTMF end timeout) is a timer from the
injected `Clock`, owned by the session and cancelled in `close()`.

The two sockets are plain non-blocking sockets watched with `loop.add_reader`, not asyncio
datagram transports: a transport costs two scheduled callbacks and a protocol round to set up
(paid per call at 1,500 calls/s), reads one datagram per wake-up, and wraps every `sendto` in
buffering checks a 172-byte RTP packet never needs. Here a wake-up reads one RTP datagram
(level-triggered: the loop comes back for the next) and a send is one `sock.sendto`; a packet the kernel will not take right now (EAGAIN) is dropped and
counted, since stale audio is worse than lost audio (STYLE.md §6). Given an `RtpSocketPool`
(media/rtp/pool.py), a session borrows an already bound pair whose readers stay registered.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
from collections import deque
from collections.abc import Callable

from media.clock import Clock, TimerHandle
from media.rtp.dtmf import DtmfReceiver, DtmfStep, dtmf_steps
from media.rtp.jitterbuffer import JitterBuffer
from media.rtp.packet import HEADER, RtpError, RtpPacket
from media.rtp.pool import PooledPair, RtpSocketPool, bind_pair
from media.rtp.ports import PortAllocator
from media.rtp.rtcp import (
    Bye,
    ReceiverReport,
    RtcpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    parse_compound,
    serialize_compound,
)
from media.rtp.stats import ReceptionStats, RtpStats

Address = tuple[str, int]
DtmfCallback = Callable[[str, int], None]

# Packets from a new address needed before a latched session follows it: enough that one
# stray or spoofed datagram cannot steal the stream, few enough that a NAT rebinding heals fast.
RELATCH_PACKETS = 3
_INTER_DIGIT_S = 0.05
_M32 = 0xFFFFFFFF
# RTCP datagrams read per readiness callback: drains a burst in one wake-up, yet a flood on
# one session cannot starve the 20 ms media clock or the other sessions.
_RECV_BATCH = 32
_MAX_DATAGRAM = 2048


class RtpSession:
    """An RTP session for one call leg.

    Lifecycle: construct, `await open()` (binds an even port and port + 1 from the allocator),
    `set_remote()` from the SDP, then `send()` / `pop_audio()` once per packet time;
    `close()` sends an RTCP BYE, cancels timers and gives the ports back.
    """

    def __init__(
        self,
        clock: Clock,
        ports: PortAllocator,
        *,
        bind_host: str = "127.0.0.1",
        clock_rate: int = 8000,
        ptime_ms: int = 20,
        dtmf_payload_type: int | None = 101,
        jitter_capacity: int = 32,
        jitter_delay_ms: int = 60,
        rtcp_interval: float = 5.0,
        dtmf_timeout: float = 1.0,
        symmetric: bool = True,
        cname: str | None = None,
        on_dtmf: DtmfCallback | None = None,
        pool: RtpSocketPool | None = None,
    ) -> None:
        self.clock = clock
        # With a pool the port pair is taken from it and given back on close (reused by a
        # later session after its quarantine); without one, bound here and closed on close.
        self._pool = pool
        self._pair: PooledPair | None = None
        self.on_dtmf = on_dtmf
        self._ports = ports
        self._bind_host = bind_host
        self._rate = clock_rate
        self._dtmf_pt = dtmf_payload_type
        self._rtcp_interval = rtcp_interval
        self._dtmf_timeout = dtmf_timeout
        self._symmetric = symmetric
        self.ssrc = secrets.randbits(32)
        self.cname = cname or f"{secrets.token_hex(8)}@centralita"
        self.jitter_buffer = JitterBuffer(jitter_capacity, jitter_delay_ms, ptime_ms)
        self._dtmf_rx = DtmfReceiver(clock_rate)
        self.local_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None
        self._rtcp_sock: socket.socket | None = None
        self._closed = False
        # Remote addresses: RTP latches per RELATCH_PACKETS, RTCP to its first valid source.
        self._remote: Address | None = None
        self._remote_rtcp: Address | None = None
        self._latched = False
        self._rtcp_latched = False
        self._candidate: Address | None = None
        self._candidate_count = 0
        # Sending state: random initial values (RFC 3550 §5.1) make known-plaintext harder.
        self._seq = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._packets_sent = 0
        self._bytes_sent = 0
        self._sent_since_report = False
        self._send_dropped = 0  # EAGAIN or a socket error: the packet is gone, counted
        # Receiving state.
        self._source: ReceptionStats | None = None
        self._lost_before = 0  # loss of earlier remote SSRCs, so `lost` never goes down
        self._packets_received = 0
        self._bytes_received = 0
        self._malformed = 0
        # RTCP state.
        self._rtcp_sent = 0
        self._rtcp_received = 0
        self._last_sr_mid = 0  # middle 32 bits of the peer's last SR NTP timestamp
        self._last_sr_at = 0.0
        self._remote_fraction = 0.0
        self._remote_lost = 0
        self._remote_jitter = 0.0
        self._rtt: float | None = None
        # Timers. RTCP starts with the first packet sent or received, so a call rejected or
        # cancelled before media flows never arms one.
        self._rtcp_running = False
        self._rtcp_timer: TimerHandle | None = None
        self._dtmf_flush_timer: TimerHandle | None = None
        self._dtmf_timers: list[TimerHandle] = []
        self._dtmf_queue: deque[tuple[str, int]] = deque()
        self._dtmf_sending = False
        self._dtmf_started_at = 0.0
        self._dtmf_timestamp = 0

    # ----------------------------------------------------------------- lifecycle

    async def open(self) -> int:
        """Bind an even port and port + 1 (RTCP) from the allocator; return the RTP port."""
        if self._sock is not None or self._closed:
            raise RuntimeError("RtpSession.open() called twice or after close()")
        if self._pool is not None:
            pair = self._pool.acquire(self._rtp_readable, self._rtcp_readable)
            self._pair = pair
            self._sock, self._rtcp_sock, self.local_port = pair.rtp, pair.rtcp, pair.port
            return pair.port
        loop = asyncio.get_running_loop()
        port, rtp, rtcp = bind_pair(self._ports, self._bind_host)
        self._loop = loop
        self._sock = rtp
        self._rtcp_sock = rtcp
        self.local_port = port
        loop.add_reader(rtp.fileno(), self._rtp_readable)
        loop.add_reader(rtcp.fileno(), self._rtcp_readable)
        return port

    def set_remote(self, host: str, port: int, rtcp_port: int | None = None) -> None:
        """Where to send (from SDP). With symmetric RTP, the first packets received win."""
        self._remote = (host, port)
        self._remote_rtcp = (host, rtcp_port if rtcp_port is not None else port + 1)
        self._latched = self._rtcp_latched = False
        self._candidate = None

    @property
    def dtmf_payload_type(self) -> int | None:
        """The telephone-event payload type, as negotiated in SDP (None: not negotiated)."""
        return self._dtmf_pt

    @dtmf_payload_type.setter
    def dtmf_payload_type(self, payload_type: int | None) -> None:
        self._dtmf_pt = payload_type

    @property
    def remote(self) -> Address | None:
        """The address RTP is sent to (after latching, where the peer really is)."""
        return self._remote

    def close(self) -> None:
        """Send RTCP BYE, cancel every timer, close both sockets and free the ports."""
        if self._closed:
            return
        self._closed = True
        if self._rtcp_running and self._remote_rtcp is not None:
            self._send_rtcp(bye=True)
        for timer in (self._rtcp_timer, self._dtmf_flush_timer, *self._dtmf_timers):
            if timer is not None:
                timer.cancel()
        self._dtmf_timers.clear()
        self._dtmf_queue.clear()
        if self._pair is not None:
            assert self._pool is not None
            pair, self._pair = self._pair, None
            self._sock = self._rtcp_sock = None
            self.local_port = None
            self._pool.release(pair)
            return
        for sock in (self._sock, self._rtcp_sock):
            if sock is not None:
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(sock.fileno())
                sock.close()
        self._sock = self._rtcp_sock = None
        if self.local_port is not None:
            self._ports.release(self.local_port)
            self.local_port = None

    # ------------------------------------------------------------------ sending

    def send(self, payload: bytes, payload_type: int, samples: int, marker: bool = False) -> None:
        """Send one media packet and advance the timestamp by `samples`.

        Before `open()` and `set_remote()` the packet is dropped (the clock still advances),
        so a player may start ticking before the answer SDP arrives.

        While a DTMF event is being sent the audio is withheld (the timestamp still advances)
        so the far end does not hear the tone in-band and detect the digit twice.
        """
        ts = self._timestamp
        self._timestamp = (ts + samples) & _M32
        if not self._dtmf_sending:
            self._send_packet(payload_type, marker, ts, payload)

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """Send one digit as RFC 4733 events; digits sent while one is playing are queued."""
        if self._dtmf_pt is None:
            raise RuntimeError("no telephone-event payload type negotiated")
        dtmf_steps(digit, duration_ms)  # validate now, so the caller gets the ValueError
        self._dtmf_queue.append((digit, duration_ms))
        if not self._dtmf_sending:
            self._next_digit()

    def _send_packet(self, payload_type: int, marker: bool, ts: int, payload: bytes) -> None:
        sock = self._sock
        remote = self._remote
        if sock is None or remote is None:
            return
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        if not self._rtcp_running:
            self._start_rtcp()
        try:
            sock.sendto(
                HEADER.pack(
                    0x80, payload_type | 0x80 if marker else payload_type, seq, ts, self.ssrc
                ) + payload,
                remote,
            )
        except OSError:
            # EAGAIN (send buffer full) or an ICMP error reported late: the sequence number is
            # spent either way, so the peer sees a loss, and we count it.
            self._send_dropped += 1
            return
        self._packets_sent += 1
        self._bytes_sent += len(payload)
        self._sent_since_report = True

    def _next_digit(self) -> None:
        if not self._dtmf_queue or self._closed:
            self._dtmf_sending = False
            return
        digit, duration_ms = self._dtmf_queue.popleft()
        steps = dtmf_steps(digit, duration_ms, clock_rate=self._rate)
        self._dtmf_sending = True
        self._dtmf_started_at = self.clock.now()
        # One event, one timestamp: the media clock position when the key went down.
        self._dtmf_timestamp = self._timestamp
        self._dtmf_timers.clear()
        self._dtmf_step(steps[0], False)
        for i, step in enumerate(steps[1:], start=2):
            self._dtmf_timers.append(
                self.clock.call_later(step.at, self._dtmf_step, step, i == len(steps))
            )

    def _dtmf_step(self, step: DtmfStep, last: bool) -> None:
        assert self._dtmf_pt is not None
        self._send_packet(self._dtmf_pt, step.marker, self._dtmf_timestamp, bytes(step.event))
        if not last:
            return
        # Keep the audio clock coherent: if nobody called send() meanwhile, jump it forward by
        # the time the event took, so the next audio packet is not "in the past".
        elapsed = round((self.clock.now() - self._dtmf_started_at) * self._rate)
        floor = (self._dtmf_timestamp + elapsed) & _M32
        if ((floor - self._timestamp) & _M32) < 0x80000000:
            self._timestamp = floor
        self._dtmf_sending = False
        if self._dtmf_queue:
            self._dtmf_sending = True  # audio stays muted during the inter-digit pause
            self._dtmf_timers = [self.clock.call_later(_INTER_DIGIT_S, self._next_digit)]

    # ---------------------------------------------------------------- receiving

    def _rtp_readable(self) -> None:
        # One datagram per wake-up. A packet comes every 20 ms, so reading on until EAGAIN
        # paid a failed recvfrom and its BlockingIOError on nearly every wake-up (~2 µs of
        # the ~10 µs a packet costs). The selector is level-triggered: whatever else is
        # queued wakes the loop again on its next turn, between the other sessions' packets
        # and the media clock, so a burst or a flood on one port cannot hold the loop either.
        sock = self._sock
        if sock is None:
            return
        try:
            data, addr = sock.recvfrom(_MAX_DATAGRAM)
        except OSError:
            # BlockingIOError (nothing after all), or a queued ICMP error (the peer's port
            # closed) surfacing here: nothing to read.
            return
        self.datagram_received(data, addr)

    def _rtcp_readable(self) -> None:
        sock = self._rtcp_sock
        if sock is None:
            return
        for _ in range(_RECV_BATCH):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except OSError:  # includes BlockingIOError: drained
                return
            self.rtcp_received(data, addr)
            if self._rtcp_sock is None:
                return

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self._malformed += 1
            return
        if addr != self._remote and not self._accept_from(addr):
            return
        source = self._source
        if source is None or packet.ssrc != source.ssrc:
            if source is not None:
                self._lost_before += max(0, source.cumulative_lost)
            source = self._source = ReceptionStats(packet.ssrc, packet.sequence_number)
        source.update(packet.sequence_number)
        if not self._rtcp_running:
            self._start_rtcp()
        self._packets_received += 1
        self._bytes_received += len(packet.payload)
        if packet.payload_type == self._dtmf_pt:
            self.jitter_buffer.put(packet, audio=False)
            self._dtmf_received(packet)
            return
        source.update_jitter(packet.timestamp, int(self.clock.now() * self._rate))
        self.jitter_buffer.put(packet)

    def pop_audio(self) -> RtpPacket | None:
        """The next audio packet for this tick (call once per packet time), or None."""
        return self.jitter_buffer.pop()

    def _accept_from(self, addr: Address) -> bool:
        if not self._symmetric:
            return True
        if not self._latched:
            self._remote = addr
            self._latched = True
            return True
        if addr != self._candidate:
            self._candidate = addr
            self._candidate_count = 0
        self._candidate_count += 1
        if self._candidate_count < RELATCH_PACKETS:
            return False
        self._remote = addr
        self._candidate = None
        return True

    def _dtmf_received(self, packet: RtpPacket) -> None:
        try:
            digits = self._dtmf_rx.feed(packet.timestamp, packet.payload, packet.marker)
        except RtpError:
            self._malformed += 1
            return
        if self._dtmf_flush_timer is not None:
            self._dtmf_flush_timer.cancel()
            self._dtmf_flush_timer = None
        if self._dtmf_rx.active:
            # The end packets may all be lost: finish the press after a quiet spell.
            self._dtmf_flush_timer = self.clock.call_later(self._dtmf_timeout, self._dtmf_flush)
        callback = self.on_dtmf
        if callback is not None:
            for d in digits:
                callback(d.digit, d.duration_ms)

    def _dtmf_flush(self) -> None:
        self._dtmf_flush_timer = None
        digit = self._dtmf_rx.flush()
        if digit is not None and self.on_dtmf is not None:
            self.on_dtmf(digit.digit, digit.duration_ms)

    # --------------------------------------------------------------------- RTCP

    def _ntp(self) -> int:
        # From the injected clock, not wall time: peers only echo it back (LSR) for the RTT.
        return int(self.clock.now() * (1 << 32)) & 0xFFFFFFFFFFFFFFFF

    def _start_rtcp(self) -> None:
        self._rtcp_running = True
        if not self._closed and self._rtcp_sock is not None:
            self._schedule_rtcp()

    def _schedule_rtcp(self) -> None:
        # Randomised 0.5–1.5 × interval (RFC 3550 §6.3.1) so calls started together spread out.
        delay = self._rtcp_interval * (0.5 + random.random())
        self._rtcp_timer = self.clock.call_later(delay, self._rtcp_tick)

    def _rtcp_tick(self) -> None:
        self._rtcp_timer = None
        if self._closed:
            return
        if self._remote_rtcp is not None:
            self._send_rtcp()
        self._schedule_rtcp()

    def build_report(self, bye: bool = False) -> list[RtcpPacket]:
        """The compound packet the next report would carry (SR or RR, SDES, maybe BYE)."""
        blocks = []
        source = self._source
        if source is not None:
            lsr = dlsr = 0
            if self._last_sr_mid:
                lsr = self._last_sr_mid
                dlsr = int((self.clock.now() - self._last_sr_at) * 65536) & _M32
            blocks.append(source.report_block(lsr, dlsr))
        report: RtcpPacket
        if self._sent_since_report:
            report = SenderReport(
                self.ssrc, self._ntp(), self._timestamp, self._packets_sent & _M32,
                self._bytes_sent & _M32, blocks,
            )
        else:
            report = ReceiverReport(self.ssrc, blocks)
        self._sent_since_report = False
        packets: list[RtcpPacket] = [
            report, SourceDescription([SdesChunk(self.ssrc, [(1, self.cname.encode())])])
        ]
        if bye:
            packets.append(Bye([self.ssrc]))
        return packets

    def _send_rtcp(self, bye: bool = False) -> None:
        sock = self._rtcp_sock
        if sock is None or self._remote_rtcp is None:
            return
        try:
            sock.sendto(serialize_compound(self.build_report(bye)), self._remote_rtcp)
        except OSError:
            self._send_dropped += 1
            return
        self._rtcp_sent += 1

    def rtcp_received(self, data: bytes, addr: Address) -> None:
        """Handle one RTCP datagram from the peer (called by the RTCP socket's protocol)."""
        try:
            packets = parse_compound(data)
        except RtpError:
            self._malformed += 1
            return
        if self._symmetric and not self._rtcp_latched:
            self._remote_rtcp = addr
            self._rtcp_latched = True
        self._rtcp_received += 1
        now = self.clock.now()
        for packet in packets:
            if isinstance(packet, SenderReport):
                self._last_sr_mid = (packet.ntp_timestamp >> 16) & _M32
                self._last_sr_at = now
            if isinstance(packet, SenderReport | ReceiverReport):
                for block in packet.reports:
                    if block.ssrc == self.ssrc:
                        self._remote_report(block.fraction_lost, block.cumulative_lost,
                                            block.jitter, block.lsr, block.dlsr)

    def _remote_report(self, fraction: int, lost: int, jitter: int, lsr: int, dlsr: int) -> None:
        self._remote_fraction = fraction / 256
        self._remote_lost = lost
        self._remote_jitter = jitter * 1000 / self._rate
        if lsr:
            mid = (self._ntp() >> 16) & _M32
            self._rtt = ((mid - lsr - dlsr) & _M32) / 65536 * 1000

    # -------------------------------------------------------------------- stats

    @property
    def stats(self) -> RtpStats:
        """A snapshot of the counters (cheap; call it as often as a dashboard needs)."""
        source = self._source
        jb = self.jitter_buffer.stats
        return RtpStats(
            packets_sent=self._packets_sent,
            bytes_sent=self._bytes_sent,
            packets_received=self._packets_received,
            bytes_received=self._bytes_received,
            lost=self._lost_before + (max(0, source.cumulative_lost) if source else 0),
            late=jb.late,
            duplicates=jb.duplicates,
            dropped=jb.dropped,
            jitter_ms=(source.jitter * 1000 / self._rate) if source else 0.0,
            malformed=self._malformed,
            rtcp_sent=self._rtcp_sent,
            rtcp_received=self._rtcp_received,
            remote_fraction_lost=self._remote_fraction,
            remote_cumulative_lost=self._remote_lost,
            remote_jitter_ms=self._remote_jitter,
            rtt_ms=self._rtt,
            send_dropped=self._send_dropped,
        )
