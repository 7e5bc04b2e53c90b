"""RtpSocketPool: bound pairs reused after a quarantine, strays dropped, ports accounted."""

from __future__ import annotations

import socket

import pytest

from media.clock import FakeClock
from media.rtp.pool import MIN_IDLE, TRIM_WINDOW_S, RtpSocketPool, bind_pair
from media.rtp.ports import PortAllocator, PortsExhaustedError
from media.rtp.session import RtpSession
from tests.media.test_rtp_session import HOST, free_range, until


def _session(clock: FakeClock, pool: RtpSocketPool) -> RtpSession:
    return RtpSession(clock, pool.ports, jitter_delay_ms=0, rtcp_interval=60, pool=pool)


def _rtp(seq: int, ssrc: int = 1) -> bytes:
    return bytes([0x80, 0]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big") + (
        ssrc.to_bytes(4, "big")) + b"\xff" * 160


async def test_pair_reused_only_after_quarantine_least_recently_freed_first() -> None:
    clock = FakeClock(100.0)
    pool = RtpSocketPool(PortAllocator(*free_range(4)), clock, quarantine=2.0)
    a, b = _session(clock, pool), _session(clock, pool)
    pa, pb = await a.open(), await b.open()
    a.close()
    clock.advance(0.5)
    b.close()
    assert pool.idle == 2
    # Still in quarantine: a new pair is bound instead.
    c = _session(clock, pool)
    pc = await c.open()
    assert pc not in (pa, pb) and pool.idle == 2
    clock.advance(1.6)  # a's pair is 2.1 s idle, b's 1.6 s
    d = _session(clock, pool)
    assert await d.open() == pa
    e = _session(clock, pool)
    assert await e.open() not in (pa, pb, pc)
    for s in (c, d, e):
        s.close()
    pool.close()
    assert pool.idle == 0 and pool.ports.available == 4


async def test_strays_to_an_idle_or_retaken_pair_never_reach_the_new_session() -> None:
    clock = FakeClock(10.0)
    pool = RtpSocketPool(PortAllocator(*free_range(2)), clock, quarantine=1.0)
    a = _session(clock, pool)
    port = await a.open()
    a.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as old_peer:
        # While idle: the pair's reader reads them and counts them.
        for i in range(3):
            old_peer.sendto(_rtp(i), (HOST, port))
        await until(lambda: pool.stray_dropped == 3)
        # Queued just before the pair is taken again (loopback queues on sendto, and nothing
        # yields to the loop in between): drained on acquire.
        old_peer.sendto(_rtp(3), (HOST, port))
        old_peer.sendto(b"\x80\xc9\x00\x01" + b"\0" * 4, (HOST, port + 1))
        clock.advance(1.0)
        b = _session(clock, pool)
        assert await b.open() == port
    await until(lambda: pool.stray_dropped == 5)
    st = b.stats
    assert (st.packets_received, st.rtcp_received, st.malformed) == (0, 0, 0)
    assert b.remote is None  # nothing latched onto the old peer
    # The new call's own media does arrive.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as new_peer:
        new_peer.sendto(_rtp(7, ssrc=9), (HOST, port))
        await until(lambda: b.stats.packets_received == 1)
    b.close()
    pool.close()


async def test_exhaustion_reuses_the_oldest_idle_pair_then_raises() -> None:
    clock = FakeClock()
    pool = RtpSocketPool(PortAllocator(*free_range(2)), clock, quarantine=60.0)
    a, b = _session(clock, pool), _session(clock, pool)
    pa, _ = await a.open(), await b.open()
    a.close()
    # Every port is bound; the idle one (quarantine or not) beats a 503.
    c = _session(clock, pool)
    assert await c.open() == pa
    with pytest.raises(PortsExhaustedError):
        await _session(clock, pool).open()
    b.close()
    c.close()
    pool.close()
    assert pool.ports.available == 2


async def test_pool_cap_closes_extras_and_gives_their_ports_back() -> None:
    clock = FakeClock()
    ports = PortAllocator(*free_range(3))
    pool = RtpSocketPool(ports, clock, max_idle=1)
    sessions = [_session(clock, pool) for _ in range(3)]
    opened = [await s.open() for s in sessions]
    for s in sessions:
        s.close()
    assert pool.idle == 1 and ports.available == 2
    for port in opened[1:]:  # really closed
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((HOST, port))
    pool.close()
    assert ports.available == 3
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, opened[0]))


def test_a_long_run_of_ports_held_elsewhere_is_stepped_over() -> None:
    """Another process holding the first 40 pairs of our range in a row (a second server, a
    load generator) does not refuse the call: the pair after them is bound."""
    start, end = free_range(60)
    held: list[socket.socket] = []
    try:
        for port in range(start, start + 80, 2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((HOST, port))
            except OSError:  # already someone else's: held all the same
                s.close()
                continue
            held.append(s)
        port, rtp, rtcp = bind_pair(PortAllocator(start, end), HOST)
        rtp.close()
        rtcp.close()
        assert start + 80 <= port < end
    finally:
        for s in held:
            s.close()


async def test_pairs_a_peak_left_idle_are_closed_once_it_has_passed() -> None:
    """100 calls end at once: their pairs wait for reuse; with ~5 calls coming and going
    after, all but MIN_IDLE of the unused ones are closed and their ports given back.
    A pool in full use keeps its pairs."""
    clock = FakeClock(100.0)
    ports = PortAllocator(*free_range(120))
    pool = RtpSocketPool(ports, clock, quarantine=2.0)
    peak = [_session(clock, pool) for _ in range(100)]
    for s in peak:
        await s.open()
    for s in peak:
        s.close()
    assert pool.idle == 100
    # Within two windows (the one the peak was in saw no idle pair at its low).
    for _ in range(2 * int(TRIM_WINDOW_S / 10) + 1):  # a few calls now and then
        clock.advance(10.0)
        few = [_session(clock, pool) for _ in range(5)]
        for s in few:
            await s.open()
        for s in few:
            s.close()
    assert pool.idle <= MIN_IDLE + 5, pool.idle
    assert ports.available >= 120 - MIN_IDLE - 5
    # Busy throughout: every idle pair is taken again within the window, none is closed.
    busy = [_session(clock, pool) for _ in range(pool.idle)]
    for s in busy:
        await s.open()
    kept, held = len(busy), 120 - ports.available
    for s in busy:
        s.close()
    clock.advance(TRIM_WINDOW_S + 1)
    again = [_session(clock, pool) for _ in range(kept)]
    for s in again:
        await s.open()
    assert 120 - ports.available == held  # nothing closed
    for s in again:
        s.close()
    pool.close()
