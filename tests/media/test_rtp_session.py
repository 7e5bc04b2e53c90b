"""RtpSession over real UDP sockets on 127.0.0.1, plus fake-clock unit tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import cast

import pytest

from media.clock import FakeClock, LoopClock
from media.rtp.dtmf import TelephoneEvent
from media.rtp.packet import RtpPacket
from media.rtp.ports import PortAllocator, PortsExhaustedError
from media.rtp.session import RELATCH_PACKETS, RtpSession

HOST = "127.0.0.1"


def free_range(pairs: int = 20) -> tuple[int, int]:
    """A port range whose first even port was free a moment ago (tests run in parallel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        start = s.getsockname()[1] & ~1
    start = min(start, 65536 - 2 * pairs)
    return start, start + 2 * pairs


class Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[tuple[bytes, tuple[str, int]]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append((data, addr))


async def collector() -> tuple[Collector, int]:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(Collector, local_addr=(HOST, 0))
    assert proto.transport is not None
    return proto, proto.transport.get_extra_info("sockname")[1]


async def until(cond: Callable[[], bool], limit: float = 3.0) -> None:
    """Wait for a condition on session counters (plain ints: there is no event to await)."""
    async with asyncio.timeout(limit):
        while not cond():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def step(clock: FakeClock, seconds: float = 0.05) -> None:
    """Advance fake time, then let the loop deliver whatever that sent."""
    clock.advance(seconds)
    await asyncio.sleep(0.005)


@pytest.fixture
def ports() -> PortAllocator:
    return PortAllocator(*free_range())


@pytest.fixture
async def pair(ports: PortAllocator) -> AsyncIterator[tuple[RtpSession, RtpSession]]:
    a = RtpSession(LoopClock(), ports, jitter_delay_ms=0, rtcp_interval=60)
    b = RtpSession(LoopClock(), ports, jitter_delay_ms=0, rtcp_interval=60)
    pa, pb = await a.open(), await b.open()
    a.set_remote(HOST, pb)
    b.set_remote(HOST, pa)
    yield a, b
    a.close()
    b.close()


# ------------------------------------------------------------------ port allocator


def test_allocator_hands_out_even_ports_and_reuses_last() -> None:
    alloc = PortAllocator(10001, 10008)
    assert alloc.available == 3
    got = [alloc.allocate() for _ in range(3)]
    assert got == [10002, 10004, 10006]
    with pytest.raises(PortsExhaustedError):
        alloc.allocate()
    alloc.release(10002)
    with pytest.raises(ValueError):
        alloc.release(10002)
    assert alloc.allocate() == 10002
    with pytest.raises(ValueError):
        PortAllocator(10000, 10001)


async def test_open_skips_a_port_taken_by_someone_else_and_close_frees(
    ports: PortAllocator,
) -> None:
    taken = ports.start
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, taken + 1))  # the RTCP half of the first pair
        session = RtpSession(LoopClock(), ports)
        port = await session.open()
    assert port != taken and port % 2 == 0
    before = ports.available
    session.close()
    session.close()  # idempotent
    assert ports.available == before + 1
    await asyncio.sleep(0.01)  # transports close their sockets on the next loop iteration
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, port))  # really closed


# ------------------------------------------------------------------- real sockets


async def test_two_sessions_exchange_audio(pair: tuple[RtpSession, RtpSession]) -> None:
    a, b = pair
    payloads = [bytes([i]) * 160 for i in range(20)]
    for i, p in enumerate(payloads):
        a.send(p, 0, 160, marker=i == 0)
        b.send(p, 8, 160)
    await until(lambda: b.stats.packets_received == 20 and a.stats.packets_received == 20)
    got = [b.pop_audio() for _ in range(20)]
    assert [p.payload for p in got if p] == payloads
    first, last = got[0], got[-1]
    assert first is not None and last is not None
    assert first.marker and first.ssrc == a.ssrc and first.payload_type == 0
    assert (last.sequence_number - first.sequence_number) & 0xFFFF == 19
    assert (last.timestamp - first.timestamp) & 0xFFFFFFFF == 19 * 160
    s = a.stats
    assert (s.packets_sent, s.bytes_sent, s.packets_received, s.bytes_received) == (
        20, 3200, 20, 3200)
    assert b.stats.lost == 0


async def test_symmetric_rtp_latches_to_real_source(ports: PortAllocator) -> None:
    b = RtpSession(LoopClock(), ports, rtcp_interval=60)
    await b.open()
    b.set_remote(HOST, 9)  # what the SDP said; the phone is really elsewhere (NAT)
    phone, phone_port = await collector()
    assert phone.transport is not None and b.local_port is not None
    rtp = bytes(RtpPacket(0, 1, 160, 77, b"\x00" * 160))
    phone.transport.sendto(rtp, (HOST, b.local_port))
    await until(lambda: b.stats.packets_received == 1)
    assert b.remote == (HOST, phone_port)
    b.send(b"\xff" * 160, 0, 160)
    await until(lambda: len(phone.packets) == 1)

    # One stray from another address does not steal the stream; a sustained move does.
    other, other_port = await collector()
    assert other.transport is not None
    for seq in range(2, 2 + RELATCH_PACKETS):
        other.transport.sendto(bytes(RtpPacket(0, seq, 160 * seq, 77)), (HOST, b.local_port))
        await asyncio.sleep(0.02)
        if seq < 1 + RELATCH_PACKETS:
            assert b.remote == (HOST, phone_port)
    await until(lambda: b.remote == (HOST, other_port))
    b.close()
    phone.transport.close()
    other.transport.close()


async def test_rtcp_reports_loss(ports: PortAllocator) -> None:
    clock = FakeClock(1000.0)
    a = RtpSession(clock, ports, rtcp_interval=5.0)
    b = RtpSession(clock, ports, rtcp_interval=5.0)
    pa, pb = await a.open(), await b.open()
    a.set_remote(HOST, pb)
    b.set_remote(HOST, pa)
    dropped = 0
    for i in range(100):
        if i % 10 == 5:  # drop on purpose: the sequence number is spent, nothing is sent
            a._seq = (a._seq + 1) & 0xFFFF
            a._timestamp += 160
            dropped += 1
        else:
            a.send(b"\x00" * 160, 0, 160)
    await until(lambda: b.stats.packets_received == 90)
    assert b.stats.lost == dropped
    while b.stats.rtcp_sent == 0:  # exactly one report from B: an RR with the loss
        await step(clock)
    await until(lambda: a.stats.remote_cumulative_lost == dropped)
    assert a.stats.remote_fraction_lost == pytest.approx(0.1, abs=0.01)
    # A's SR reached B, so B's next report carries LSR/DLSR and A can measure the RTT.
    while a.stats.rtcp_sent == 0:
        await step(clock)
    await until(lambda: b.stats.rtcp_received > 0)
    reports = b.stats.rtcp_sent
    while b.stats.rtcp_sent == reports:
        await step(clock)
    await until(lambda: a.stats.rtt_ms is not None)
    rtt = a.stats.rtt_ms
    # Packets cross loopback between fake-clock steps of 50 ms: RTT is at most two steps.
    assert rtt is not None and 0 <= rtt <= 110
    a.close()
    b.close()


async def test_dtmf_round_trip(pair: tuple[RtpSession, RtpSession]) -> None:
    a, b = pair
    heard: list[tuple[str, int]] = []
    b.on_dtmf = lambda digit, ms: heard.append((digit, ms))
    a.send_dtmf("5")
    a.send_dtmf("#", 160)  # queued behind the first
    await until(lambda: len(heard) == 2)
    await asyncio.sleep(0.1)
    assert heard == [("5", 100), ("#", 160)]
    assert b.pop_audio() is None and b.jitter_buffer.stats.lost == 0


async def test_dtmf_packets_on_the_wire(ports: PortAllocator) -> None:
    clock = FakeClock()
    a = RtpSession(clock, ports, rtcp_interval=60)
    await a.open()
    sink, sink_port = await collector()
    a.set_remote(HOST, sink_port)
    a.send(b"\x00" * 160, 0, 160)
    a.send_dtmf("7", 100)
    for _ in range(3):
        clock.advance(0.02)
        a.send(b"\x00" * 160, 0, 160)  # withheld while the event plays
    clock.advance(1.0)  # the event ends at 140 ms (last end packet); the caller was idle
    a.send(b"\x00" * 160, 0, 160)
    await until(lambda: len(sink.packets) == 7)
    pkts = [RtpPacket.parse(d) for d, _ in sink.packets]
    audio0, events, audio1 = pkts[0], pkts[1:6], pkts[6]
    assert [p.payload_type for p in events] == [101] * 5
    assert [p.marker for p in events] == [True, False, False, False, False]
    assert {p.timestamp for p in events} == {(audio0.timestamp + 160) & 0xFFFFFFFF}
    seqs = [p.sequence_number for p in pkts]
    assert all((y - x) & 0xFFFF == 1 for x, y in zip(seqs, seqs[1:], strict=False))
    parsed = [TelephoneEvent.parse(p.payload) for p in events]
    assert [e.end for e in parsed] == [False, False, True, True, True]
    assert [e.duration for e in parsed] == [0, 400, 800, 800, 800]
    # The media clock moved on by the event's 140 ms of wall time, not by the sends made.
    assert (audio1.timestamp - events[0].timestamp) & 0xFFFFFFFF == 1120
    a.close()
    assert sink.transport is not None
    sink.transport.close()


# ------------------------------------------------------------- fake clock, no sockets


def rtp(seq: int, ts: int, pt: int = 0, payload: bytes = b"\x00" * 160,
        marker: bool = False) -> bytes:
    return bytes(RtpPacket(pt, seq & 0xFFFF, ts & 0xFFFFFFFF, 42, payload, marker))


def test_interarrival_jitter_a8() -> None:
    clock = FakeClock()
    s = RtpSession(clock, PortAllocator(30000, 30010))
    addr = (HOST, 5004)
    for i in range(50):
        s.datagram_received(rtp(i, i * 160), addr)
        clock.advance(0.02)
    assert s.stats.jitter_ms < 0.2  # only rounding of arrival times to samples
    for i in range(50, 250):
        # Arrivals 10 ms then 30 ms apart for 20 ms of media: |D| = 10 ms every packet.
        clock.advance(0.01 if i % 2 else 0.03)
        s.datagram_received(rtp(i, i * 160), addr)
    assert s.stats.jitter_ms == pytest.approx(10.0, rel=0.05)


def test_dtmf_end_lost_is_flushed_after_timeout() -> None:
    clock = FakeClock()
    heard: list[tuple[str, int]] = []
    s = RtpSession(clock, PortAllocator(30000, 30010), on_dtmf=lambda d, ms: heard.append((d, ms)))
    addr = (HOST, 5004)
    s.datagram_received(rtp(1, 800, 101, bytes(TelephoneEvent(3, False, 10, 0)), True), addr)
    s.datagram_received(rtp(2, 800, 101, bytes(TelephoneEvent(3, False, 10, 400))), addr)
    clock.advance(0.9)
    assert heard == []
    clock.advance(0.2)
    assert heard == [("3", 50)]
    assert clock.pending == 0


def test_malformed_datagrams_are_counted_not_raised() -> None:
    s = RtpSession(FakeClock(), PortAllocator(30000, 30010))
    s.datagram_received(b"\x00" * 5, (HOST, 1))
    s.datagram_received(rtp(1, 0, 101, b"\x01"), (HOST, 1))  # event payload too short
    s.rtcp_received(b"\x80\xc9\x00\x09", (HOST, 2))
    assert s.stats.malformed == 3
    with pytest.raises(ValueError):
        s.send_dtmf("z")
