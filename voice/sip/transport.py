"""SIP transports on asyncio: UDP, TCP and TLS (RFC 3261 §18).

Everything that can carry a message is a `Flow`: the UDP socket of a listener (one flow for
every peer, addressed per send) or one TCP/TLS connection (one peer). The layer above gets
`(bytes, flow, peer_address)` for each complete message and answers through the same flow,
so a response to a request that came over a connection goes back over that connection.

Stream connections are cut into messages with `StreamFramer`, kept in a table by
`(transport, peer host, peer port)` so that outbound requests reuse them, and closed after
`idle_timeout` seconds without traffic (swept on the injected clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Protocol, cast

from media.clock import Clock, TimerHandle
from voice.sip.errors import SipParseError, TransportError
from voice.sip.message import StreamFramer

log = logging.getLogger(__name__)

Address = tuple[str, int]
MessageHandler = Callable[[bytes, "Flow", Address], None]

# A pause before TCP writes back-pressure: asyncio buffers writes; past this much unsent data a
# peer is not reading and we drop it rather than grow memory without bound.
MAX_WRITE_BUFFER = 1_048_576
# SIP UDP socket buffers: ~4,000 loopback datagrams, a second of traffic at 1,500 calls/s.
UDP_BUFFER_BYTES = 4 * 1024 * 1024


class Flow(Protocol):
    """Something a SIP message can be sent over."""

    transport: str  # "UDP", "TCP" or "TLS"
    reliable: bool
    local: Address

    def send(self, data: bytes, addr: Address) -> None:
        """Send `data` to `addr` (ignored by connection flows). Raises TransportError."""
        ...


def _addr(sockaddr: object) -> Address:
    # IPv6 socket addresses are 4-tuples; SIP only needs host and port.
    assert isinstance(sockaddr, tuple)
    return str(sockaddr[0]), int(sockaddr[1])


class UdpFlow(asyncio.DatagramProtocol):
    """One UDP socket; `send()` addresses each datagram."""

    reliable = False
    transport = "UDP"

    def __init__(self, layer: TransportLayer) -> None:
        self._layer = layer
        self._sock: asyncio.DatagramTransport | None = None
        self.local: Address = ("", 0)
        self.family = socket.AF_INET

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self._sock = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("socket")
        self.family = sock.family
        self.local = _addr(transport.get_extra_info("sockname"))
        # The default receive buffer (~200 KB, ~150 loopback datagrams) overflows when a
        # burst of INVITE/ACK/BYE lands while the loop is busy for a few ms (measured: 7% of
        # messages lost at 700 calls/s). A lost ACK keeps a call, its RTP ports and its 200
        # retransmissions alive for 32 s. The kernel caps this at net.core.rmem_max.
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, UDP_BUFFER_BYTES)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._layer.deliver(data, self, _addr(addr))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: the transaction timers deal with the loss.
        log.debug("udp error on %s: %s", self.local, exc)

    def send(self, data: bytes, addr: Address) -> None:
        if self._sock is None or self._sock.is_closing():
            raise TransportError("UDP socket closed")
        self._sock.sendto(data, addr)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


class StreamFlow(asyncio.Protocol):
    """One TCP or TLS connection, framed by Content-Length."""

    reliable = True

    def __init__(self, layer: TransportLayer, transport_name: str) -> None:
        self._layer = layer
        self.transport = transport_name
        self._conn: asyncio.Transport | None = None
        self._framer = StreamFramer()
        self.local: Address = ("", 0)
        self.peer: Address = ("", 0)
        self.last_active = layer.clock.now()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._conn = transport
        self.local = _addr(transport.get_extra_info("sockname"))
        self.peer = _addr(transport.get_extra_info("peername"))
        self._layer.register(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = self._layer.clock.now()
        try:
            messages = self._framer.feed(data)
        except SipParseError as exc:
            # The stream can't be re-synchronised once framing is lost (RFC 3261 §18.3).
            log.debug("closing %s %s: %s", self.transport, self.peer, exc.reason)
            self._layer.count("malformed")
            self.close()
            return
        for message in messages:
            self._layer.deliver(message, self, self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._layer.unregister(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes, addr: Address) -> None:
        conn = self._conn
        if conn is None or conn.is_closing():
            raise TransportError(f"{self.transport} connection to {self.peer} closed")
        if conn.get_write_buffer_size() > MAX_WRITE_BUFFER:
            raise TransportError(f"{self.transport} peer {self.peer} is not reading")
        self.last_active = self._layer.clock.now()
        conn.write(data)

    def close(self) -> None:
        if self._conn is not None and not self._conn.is_closing():
            self._conn.close()


class TransportLayer:
    """Listeners and connections for every transport; delivers messages to `on_message`."""

    def __init__(
        self,
        on_message: MessageHandler,
        clock: Clock,
        *,
        idle_timeout: float = 120.0,
        tls_client_context: ssl.SSLContext | None = None,
        counters: dict[str, int] | None = None,
    ) -> None:
        self.clock = clock
        self._on_message = on_message
        self._idle_timeout = idle_timeout
        self._tls_client = tls_client_context
        self._counters = counters if counters is not None else {}
        self._udp: list[UdpFlow] = []
        self._servers: list[tuple[str, asyncio.Server]] = []
        self._conns: dict[tuple[str, str, int], StreamFlow] = {}
        self._sweeper: TimerHandle | None = None
        self.bound: list[tuple[str, Address]] = []

    # -- plumbing called by the flows ---------------------------------------------------------
    def deliver(self, data: bytes, flow: Flow, addr: Address) -> None:
        self._on_message(data, flow, addr)

    def count(self, name: str) -> None:
        self._counters[name] = self._counters.get(name, 0) + 1

    def register(self, flow: StreamFlow) -> None:
        self._conns[(flow.transport, flow.peer[0], flow.peer[1])] = flow

    def unregister(self, flow: StreamFlow) -> None:
        key = (flow.transport, flow.peer[0], flow.peer[1])
        if self._conns.get(key) is flow:
            del self._conns[key]

    # -- listening ----------------------------------------------------------------------------
    async def listen_udp(self, host: str, port: int) -> Address:
        loop = asyncio.get_running_loop()
        _, flow = await loop.create_datagram_endpoint(
            lambda: UdpFlow(self), local_addr=(host, port)
        )
        self._udp.append(flow)
        self.bound.append(("UDP", flow.local))
        return flow.local

    async def listen_stream(
        self, host: str, port: int, context: ssl.SSLContext | None = None
    ) -> Address:
        """Listen for TCP, or TLS when `context` (a server context) is given."""
        name = "TLS" if context is not None else "TCP"
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: StreamFlow(self, name), host, port, ssl=context, reuse_address=True
        )
        self._servers.append((name, server))
        bound = _addr(server.sockets[0].getsockname())
        self.bound.append((name, bound))
        self._arm_sweeper()
        return bound

    def local_address(self, transport: str, family_host: str = "127.0.0.1") -> Address:
        """The bound address of `transport` on the family of `family_host`."""
        v6 = ":" in family_host
        for name, addr in self.bound:
            if name == transport.upper() and (":" in addr[0]) == v6:
                return addr
        raise TransportError(f"not listening on {transport} for {family_host}")

    # -- sending ------------------------------------------------------------------------------
    async def flow_to(self, transport: str, addr: Address, *,
                      server_name: str | None = None) -> Flow:
        """A flow able to reach `addr`: the UDP socket of its family or a (new) connection.

        `server_name`: the host name a TLS certificate must carry (the URI's host, before it
        was resolved to `addr`); default the address itself."""
        transport = transport.upper()
        if transport == "UDP":
            family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
            for flow in self._udp:
                if flow.family == family:
                    return flow
            raise TransportError(f"no UDP socket for {addr[0]}")
        if transport not in ("TCP", "TLS"):
            raise TransportError(f"unsupported transport {transport}")
        existing = self._conns.get((transport, addr[0], addr[1]))
        if existing is not None:
            return existing
        context: ssl.SSLContext | None = None
        if transport == "TLS":
            context = self._tls_client or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: StreamFlow(self, transport), addr[0], addr[1], ssl=context,
                server_hostname=(server_name or addr[0]) if context is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"cannot connect {transport} to {addr}: {exc}") from exc
        self._arm_sweeper()
        return conn

    # -- idle connections ---------------------------------------------------------------------
    def _arm_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = self.clock.call_later(self._idle_timeout / 2, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        limit = self.clock.now() - self._idle_timeout
        for flow in list(self._conns.values()):
            if flow.last_active < limit:
                log.debug("closing idle %s connection to %s", flow.transport, flow.peer)
                flow.close()
        self._arm_sweeper()

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    async def close(self) -> None:
        """Stop listening, close every socket and connection, and wait for them."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for flow in self._udp:
            flow.close()
        self._udp.clear()
        for _, server in self._servers:
            server.close()
        conns = list(self._conns.values())
        for conn in conns:
            conn.close()
        for _, server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if conns:
            await asyncio.wait([c.closed for c in conns], timeout=2.0)
        # Closing marks the sweeper idle; the bound addresses are kept for diagnostics.
