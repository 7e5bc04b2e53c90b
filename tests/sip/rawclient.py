"""A tiny SIP peer for tests: sends raw bytes, collects what comes back (UDP, TCP, TLS)."""

from __future__ import annotations

import asyncio
import itertools
import ssl

from voice.sip.message import SipMessage, SipRequest, SipResponse, StreamFramer, parse_message

_seq = itertools.count(1)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


class RawClient:
    """`send(text)` raw SIP; `recv()` the next message parsed."""

    def __init__(self, transport: str, server: tuple[str, int]) -> None:
        self.transport = transport.upper()
        self.server = server
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self.local: tuple[str, int] = ("", 0)

    async def open(self, ssl_context: ssl.SSLContext | None = None) -> RawClient:
        loop = asyncio.get_running_loop()
        host = self.server[0]
        if self.transport == "UDP":
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self.queue), local_addr=(host, 0)
            )
            self.local = self._udp.get_extra_info("sockname")[:2]
        else:
            reader, self._writer = await asyncio.open_connection(
                host, self.server[1], ssl=ssl_context,
                server_hostname=host if ssl_context else None,
            )
            self.local = self._writer.get_extra_info("sockname")[:2]
            self._reader_task = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        framer = StreamFramer()
        while data := await reader.read(65536):
            for msg in framer.feed(data):
                self.queue.put_nowait(msg)

    @property
    def via_host(self) -> str:
        h = self.local[0]
        return f"[{h}]" if ":" in h else h

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        if self._udp is not None:
            self._udp.sendto(data, self.server)
        else:
            assert self._writer is not None
            self._writer.write(data)

    async def recv_raw(self, wait: float = 3.0) -> bytes:
        return await asyncio.wait_for(self.queue.get(), wait)

    async def recv(self, wait: float = 3.0) -> SipMessage:
        return parse_message(await self.recv_raw(wait))

    async def recv_response(self, wait: float = 3.0) -> SipResponse:
        msg = await self.recv(wait)
        assert isinstance(msg, SipResponse), msg
        return msg

    async def recv_request(self, wait: float = 3.0) -> SipRequest:
        msg = await self.recv(wait)
        assert isinstance(msg, SipRequest), msg
        return msg

    async def expect_silence(self, seconds: float) -> None:
        try:
            data = await asyncio.wait_for(self.queue.get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {data[:80]!r}")

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)


def make_request(
    client: RawClient, method: str, *, call_id: str | None = None, cseq: int = 1,
    branch: str | None = None, to_tag: str | None = None, from_tag: str = "ftag",
    body: str = "", extra: str = "", uri: str | None = None, cseq_method: str | None = None,
) -> tuple[str, str, str]:
    """Build raw request text; returns (text, call_id, branch)."""
    call_id = call_id or f"call-{next(_seq)}@test"
    branch = branch or f"z9hG4bK-t{next(_seq)}"
    host, port = client.server
    srv = f"[{host}]" if ":" in host else host
    uri = uri or f"sip:ivr@{srv}:{port}"
    to = f"<sip:ivr@{srv}>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{client.transport} {client.via_host}:{client.local[1]};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:caller@{client.via_host}>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        f"Contact: <sip:caller@{client.via_host}:{client.local[1]}>",
    ]
    if extra:
        lines.extend(extra.strip().splitlines())
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body, call_id, branch
