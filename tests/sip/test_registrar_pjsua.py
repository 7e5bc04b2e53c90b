"""Interop: pjsua2 (PJSIP, an independent stack) registers against our registrar over UDP."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import cast

import pytest

from media.clock import LoopClock
from voice.sip.errors import SipParseError
from voice.sip.message import SipRequest, parse_message
from voice.sip.registrar import Registrar, RegistrarConfig

pytest.importorskip("pjsua2")
pytestmark = pytest.mark.slow
_REPO = Path(__file__).resolve().parents[2]


class _Server(asyncio.DatagramProtocol):
    """Just enough transport for the test: parse, hand REGISTER to the registrar, reply."""

    def __init__(self, registrar: Registrar) -> None:
        self.registrar = registrar
        self.statuses: list[int] = []
        self.authorizations: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse_message(data)
        except SipParseError:
            return
        if not isinstance(msg, SipRequest):
            return
        self.authorizations += msg.headers.get_all("Authorization")
        response = self.registrar.on_register(msg, addr)
        self.statuses.append(response.status)
        assert self.transport is not None
        self.transport.sendto(bytes(response), addr)


async def _register(password: str) -> tuple[dict[str, object], _Server, Registrar]:
    loop = asyncio.get_running_loop()
    registrar = Registrar(
        RegistrarConfig(realm="centralita", users={"1001": "s3cret"}), LoopClock()
    )
    transport, server = await loop.create_datagram_endpoint(
        lambda: _Server(registrar), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.sip.pjsua_register", f"127.0.0.1:{port}", "1001",
            password, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=_REPO,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        result: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
        return result, server, registrar
    finally:
        transport.close()


async def test_pjsua2_registers_and_unregisters_with_sha256_digest() -> None:
    result, server, registrar = await _register("s3cret")
    assert result["status"] == 200, result
    assert server.statuses[:2] == [401, 200]
    assert "algorithm=SHA-256" in server.authorizations[0]  # our first offer is taken
    # pjsua2 unregisters (Expires: 0) when its account shuts down; that must succeed too.
    assert server.statuses[-1] == 200 and len(server.statuses) >= 3
    assert registrar.lookup("sip:1001@127.0.0.1") == []


async def test_pjsua2_wrong_password_gets_403_once() -> None:
    result, server, registrar = await _register("wrong")
    assert result["status"] == 403, result
    assert server.statuses == [401, 403]  # no 401 loop
    assert registrar.lookup("sip:1001@127.0.0.1") == []
