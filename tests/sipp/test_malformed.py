"""Malformed datagrams: a 400 that says why, and the server keeps serving."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest

from tests.helpers.server import ServerProcess
from tests.sipp.conftest import Sipp

VIA = "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-bad{n};rport"

# Each has a parseable Via so the server can answer; each breaks one rule of RFC 3261.
MALFORMED = {
    "no Call-ID": (
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\n{via}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
        "To: <sip:b@127.0.0.1>\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ),
    "CSeq method differs from the request method": (
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\n{via}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
        "To: <sip:b@127.0.0.1>\r\nCall-ID: bad-{n}@test\r\nCSeq: 1 INVITE\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ),
    "CSeq not a number": (
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\n{via}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
        "To: <sip:b@127.0.0.1>\r\nCall-ID: bad-{n}@test\r\nCSeq: one OPTIONS\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ),
    "Content-Length larger than the body": (
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\n{via}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
        "To: <sip:b@127.0.0.1>\r\nCall-ID: bad-{n}@test\r\nCSeq: 1 OPTIONS\r\n"
        "Max-Forwards: 70\r\nContent-Length: 500\r\n\r\nshort"
    ),
    "no From": (
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\n{via}\r\nTo: <sip:b@127.0.0.1>\r\n"
        "Call-ID: bad-{n}@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ),
}

# No usable Via: nothing can be answered; these must simply not hurt the server.
GARBAGE = [
    b"\x00\x01\x02\x03 not sip at all",
    b"INVITE\r\n\r\n",
    b"SIP/2.0 200 OK\r\n\r\n",  # a response nobody asked for
    b"\xff" * 1400,
]

STATUS_LINE = re.compile(rb"^SIP/2\.0 (\d{3}) ([^\r\n]*)\r\n")


async def _exchange(sock: socket.socket, data: bytes, wait: float) -> bytes | None:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, data)
    try:
        return await asyncio.wait_for(loop.sock_recv(sock, 65535), wait)
    except TimeoutError:
        return None


@pytest.fixture
def udp_socket(server: ServerProcess) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.connect(("127.0.0.1", server.sip_port))
    sock.setblocking(False)
    return sock


async def test_malformed_requests_get_400_with_reason(
    server: ServerProcess, udp_socket: socket.socket
) -> None:
    port = udp_socket.getsockname()[1]
    problems = []
    with udp_socket:
        for n, (what, template) in enumerate(MALFORMED.items()):
            text = template.format(via=VIA.format(port=port, n=n), n=n)
            reply = await _exchange(udp_socket, text.encode(), 2.0)
            if reply is None:
                problems.append(f"{what}: no answer")
                continue
            match = STATUS_LINE.match(reply)
            if match is None or match.group(1) != b"400":
                problems.append(f"{what}: answered {reply[:80]!r}")
            elif len(match.group(2).strip()) < 3:
                problems.append(f"{what}: 400 without a reason phrase")
    assert not problems, "\n".join(problems)


async def test_server_survives_garbage_then_answers_options(
    server: ServerProcess, udp_socket: socket.socket, sipp: Sipp
) -> None:
    with udp_socket:
        for data in GARBAGE:
            reply = await _exchange(udp_socket, data, 0.3)
            assert reply is None or reply.startswith(b"SIP/2.0 4"), reply[:80]
    result = await sipp.run(
        ["-m", "1", "-timeout", "10s"], target=server.sip_target, scenario_name="options",
        kill_after=20,
    )
    result.assert_calls(successful=1)
