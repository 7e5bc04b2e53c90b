"""Bound RTP/RTCP socket pairs reused across calls.

Opening a session used to cost two `socket()` + `bind()`, two `add_reader` and, at hang-up,
two `remove_reader` + `close()`: ~10–14% of the CPU at 1,500 calls/s. A pair freed here stays
bound with its readers registered on the loop for good; the readers dispatch to whichever
session holds the pair, and while it is idle they read and drop (and count) what arrives.

A pair is reused only after a quarantine (least-recently-freed first), so a new call does not
get the previous call's straggling packets — with symmetric RTP one early stray would latch the
new session onto the old peer. Whatever is still queued when a pair is taken is drained first.
The ports stay allocated in the `PortAllocator` while their pair is pooled; when the range runs
out, the oldest idle pair is reused (drained) before `PortsExhaustedError` is raised, as the
allocator would have handed out its least-recently-freed port.
"""

from __future__ import annotations

import asyncio
import resource
import socket
from collections import deque
from collections.abc import Callable

from media.clock import Clock
from media.rtp.ports import PortAllocator, PortsExhaustedError

ReadyCallback = Callable[[], None]

# Pairs tried before a call is refused "no media ports". Another process on the machine may
# hold a long run of our range (another server, a load generator: SIPp at 400 calls holds
# 800 ports in a row), and the allocator hands ports out in order, so 8 tries failed inside
# such a run while half the range was free (CI refused test calls this way). A failed bind
# costs microseconds; a port that failed goes to the back of the free list.
BIND_ATTEMPTS = 1024
# Long enough for a hung-up peer's last packets (and its RTCP BYE) to have arrived and been
# dropped; at 1,500 calls/s that is ~3,000 pairs waiting.
QUARANTINE_S = 2.0
# Datagrams dropped per wake-up of an idle pair: a flood on an idle port must not starve the
# loop (it is level-triggered, so the rest is read on the next turn).
_IDLE_BATCH = 64
_MAX_DATAGRAM = 2048
# Linux creates the socket non-blocking in the same syscall (Python then sets its timeout to 0,
# as setblocking(False) would).
_SOCK_NONBLOCK: int = getattr(socket, "SOCK_NONBLOCK", 0)


def bind_udp(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to (host, port); raises OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM | _SOCK_NONBLOCK)
    try:
        if not _SOCK_NONBLOCK:
            sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def bind_pair(ports: PortAllocator, host: str) -> tuple[int, socket.socket, socket.socket]:
    """An even port and port + 1 from `ports`, both bound; skips ports other processes hold."""
    last_error: OSError | None = None
    for _ in range(BIND_ATTEMPTS):
        port = ports.allocate()
        try:
            rtp = bind_udp(host, port)
        except OSError as exc:  # taken by another process: give it back, try the next
            ports.release(port)
            last_error = exc
            continue
        try:
            rtcp = bind_udp(host, port + 1)
        except OSError as exc:
            rtp.close()
            ports.release(port)
            last_error = exc
            continue
        return port, rtp, rtcp
    raise OSError(f"no bindable RTP port pair after {BIND_ATTEMPTS} attempts") from last_error


def _drain(sock: socket.socket, limit: int) -> int:
    """Read and drop up to `limit` queued datagrams; how many were dropped."""
    dropped = 0
    while dropped < limit:
        try:
            sock.recv(_MAX_DATAGRAM)
        except OSError:  # BlockingIOError: empty; anything else (queued ICMP): nothing to read
            return dropped
        dropped += 1
    return dropped


def _default_max_idle() -> int:
    # Idle pairs hold two descriptors each: leave at least half of the process's limit to live
    # calls, the SIP transport and everything else.
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(0, min(4096, soft // 4))


class PooledPair:
    """One bound RTP/RTCP socket pair; its loop readers live as long as the pair."""

    __slots__ = ("port", "rtp", "rtcp", "on_rtp", "on_rtcp", "freed_at", "_pool")

    def __init__(
        self, pool: RtpSocketPool, port: int, rtp: socket.socket, rtcp: socket.socket
    ) -> None:
        self._pool = pool
        self.port = port
        self.rtp = rtp
        self.rtcp = rtcp
        self.on_rtp: ReadyCallback | None = None
        self.on_rtcp: ReadyCallback | None = None
        self.freed_at = 0.0

    def rtp_ready(self) -> None:
        callback = self.on_rtp
        if callback is not None:
            callback()
        else:
            self._pool.stray_dropped += _drain(self.rtp, _IDLE_BATCH)

    def rtcp_ready(self) -> None:
        callback = self.on_rtcp
        if callback is not None:
            callback()
        else:
            self._pool.stray_dropped += _drain(self.rtcp, _IDLE_BATCH)

    def drain(self) -> int:
        """Drop everything queued on both sockets (bounded by their receive buffers)."""
        return _drain(self.rtp, 1 << 20) + _drain(self.rtcp, 1 << 20)


# Idle pairs the pool never closed for lack of use (a burst of calls just ended: reused pairs
# save binding new ones), and the window over which the rest must go unused to be closed.
MIN_IDLE = 32
TRIM_WINDOW_S = 60.0


class RtpSocketPool:
    """Hands out bound port pairs, new or reused after `quarantine` seconds idle.

    At most `max_idle` pairs wait in the pool; a pair freed beyond that is closed and its port
    given back to the allocator. Pairs a peak left behind are closed once it has passed: when
    the pool held more than `MIN_IDLE` idle pairs throughout a `TRIM_WINDOW_S` window (its
    low-water mark), that surplus was not needed and is closed, so the process's fds come
    back down after a burst of calls (a soak's stall left 1,355 fds open for 320 calls).
    Reuse alone never shrinks the pool: pairs are reused oldest first, so a surplus cycles.
    """

    def __init__(
        self,
        ports: PortAllocator,
        clock: Clock,
        *,
        bind_host: str = "127.0.0.1",
        quarantine: float = QUARANTINE_S,
        max_idle: int | None = None,
    ) -> None:
        self.ports = ports
        self.clock = clock
        self.bind_host = bind_host
        self.quarantine = quarantine
        self.max_idle = _default_max_idle() if max_idle is None else max_idle
        self.stray_dropped = 0  # datagrams that reached a pair while no session held it
        self._idle: deque[PooledPair] = deque()  # oldest freed first
        self._window_start: float | None = None
        self._low = 0  # the fewest idle pairs since `_window_start`
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def available(self) -> int:
        """Pairs a session could get now or after quarantine: free ports plus idle pairs."""
        return self.ports.available + len(self._idle)

    def acquire(self, on_rtp: ReadyCallback, on_rtcp: ReadyCallback) -> PooledPair:
        """A pair whose readable events go to `on_rtp` / `on_rtcp` until `release()`.

        Raises `PortsExhaustedError` when every port is held by a live session, `OSError` when
        no port pair can be bound.
        """
        if self._closed:
            raise RuntimeError("RtpSocketPool is closed")
        idle = self._idle
        pair: PooledPair | None = None
        if idle and idle[0].freed_at + self.quarantine <= self.clock.now():
            pair = idle.popleft()
        else:
            try:
                pair = self._bind_new()
            except PortsExhaustedError:
                if not idle:
                    raise
                pair = idle.popleft()
        if pair.freed_at:  # reused: what arrived since the last wake-up is not ours
            self.stray_dropped += pair.drain()
        pair.on_rtp = on_rtp
        pair.on_rtcp = on_rtcp
        self._low = min(self._low, len(idle))
        self._trim()
        return pair

    def release(self, pair: PooledPair) -> None:
        """Take a pair back; it stays bound (and its strays dropped) until reused or closed."""
        pair.on_rtp = pair.on_rtcp = None
        if self._closed or len(self._idle) >= self.max_idle:
            self._close_pair(pair)
            return
        # Never 0: `acquire` tells a reused pair (drain it) from a new one by this.
        pair.freed_at = self.clock.now() or 1e-9
        self._idle.append(pair)
        self._trim()

    def _trim(self) -> None:
        """Close the idle pairs that went unused for a whole window (see the class doc)."""
        now = self.clock.now()
        if self._window_start is None:
            self._window_start, self._low = now, len(self._idle)
            return
        if now - self._window_start < TRIM_WINDOW_S:
            return
        for _ in range(max(0, self._low - MIN_IDLE)):
            self._close_pair(self._idle.popleft())
        self._window_start, self._low = now, len(self._idle)

    def close(self) -> None:
        """Close every idle pair; pairs released later are closed on release."""
        self._closed = True
        while self._idle:
            self._close_pair(self._idle.popleft())

    def _bind_new(self) -> PooledPair:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        port, rtp, rtcp = bind_pair(self.ports, self.bind_host)
        pair = PooledPair(self, port, rtp, rtcp)
        self._loop.add_reader(rtp.fileno(), pair.rtp_ready)
        self._loop.add_reader(rtcp.fileno(), pair.rtcp_ready)
        return pair

    def _close_pair(self, pair: PooledPair) -> None:
        loop = self._loop
        for sock in (pair.rtp, pair.rtcp):
            if loop is not None and not loop.is_closed():
                loop.remove_reader(sock.fileno())
            sock.close()
        self.ports.release(pair.port)
