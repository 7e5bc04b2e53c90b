"""Deflection from the queue on a real call: a pjsua2 caller waiting in a queue presses the
queue's deflect key (RFC 4733); the server texts it (the real `twilio` client to the loopback
stand-in) the summary and a signed chat link; the customer opens the link and writes on the
real chat socket; the chat lands on the call's case and is offered to an agent; when the
agent accepts it the caller is told and hung up, and the queue's figures count one
deflected and no abandoned caller. An untrusted caller pressing the key is never texted."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cases.store import CaseStore
from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.chat_config import ChatSettings
from channels.twilio_config import TwilioConfig
from routing.conversations import TextRouter
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import LOOPBACK, free_port, free_sip_port, random_rtp_block
from tests.helpers.twilio_standin import TwilioStandIn
from voice.pjsua.client import place_call
from voice.trust import parse_sources
from web.auth.tokens import digest

pytestmark = pytest.mark.slow

ACCOUNT = "AC" + "9" * 32
TOKEN = "twilio-auth-token-for-deflect-tests"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000000"
NUMBER = "612345678"  # a Spanish mobile: in the default dial plan (region ES)
ADMIN_TOKEN = "ctk_tests_deflect_" + "d" * 32
FLOW = """name: queue
default: true
steps:
  - queue: {name: support, on_timeout: after}
  - hangup
  - label: after
    say: "Sorry."
  - hangup
"""
# The agent takes chats only (voice capacity 0): the caller waits for as long as it takes.
ROUTING = """queues:
  - name: support
    channels: [voice, chat]
    moh: null
    announce_every: 0
    callback_key: null
    deflect_key: "2"
    offer_timeout: 30
agents:
  - id: ana
    max_concurrent: 3
    capacity: {voice: 0, chat: 2}
    queues: [support]
"""
LINK = re.compile(r"https://contact\.example\.test/pbx/chat/continue\?t=(\S+)")


@dataclass
class Live:
    server: Server
    base: str
    http: aiohttp.ClientSession
    twilio: TwilioStandIn

    @property
    def router(self) -> TextRouter:
        assert self.server.routing is not None and self.server.routing.text is not None
        return self.server.routing.text

    @property
    def store(self) -> CaseStore:
        assert self.server.store is not None
        return self.server.store

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body, headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
            return response.status, await response.json()


async def until(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _live(tmp_path: Path, trusted: str | None, flow: str = FLOW,
                database: ServerDatabase | None = None) -> AsyncIterator[Live]:
    """A server trusting `trusted` sources, running `flow`; its cases in `database`
    (default: its own SQLite file)."""
    (tmp_path / "routing.yaml").write_text(ROUTING)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "queue.yaml").write_text(flow)
    async with TwilioStandIn(ACCOUNT, TOKEN) as twilio, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30)) as http:
        low, high = random_rtp_block()
        extra: dict[str, Any] = {}
        if trusted is not None:
            extra["trusted_sources"] = parse_sources([trusted], "trusted_sources")
        settings = Settings(
            sip_listen=HostPort(LOOPBACK, free_sip_port()),
            http_listen=HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
            data_dir=tmp_path / "data", rtp_port_min=low, rtp_port_max=high,
            transcription="off", routing_file=tmp_path / "routing.yaml", flows_dir=flows,
            cases_url=database.config().get("cases_url") if database else None,
            auth=AuthSettings(tokens=(
                ConfigTokenSettings("tests", "admin", digest(ADMIN_TOKEN)),)),
            twilio=TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                                sms_number=OUR_SMS, api_base_url=twilio.base_url),
            chat=ChatSettings(), **extra)
        server = Server(settings)
        await server.start()
        twilio.forward(PUBLIC, f"http://{settings.http_listen}")
        try:
            yield Live(server, f"http://{settings.http_listen}", http, twilio)
        finally:
            await server.stop()


@pytest.fixture
async def live(tmp_path: Path, server_database: ServerDatabase) -> AsyncIterator[Live]:
    async for one in _live(tmp_path, None, database=server_database):
        yield one


@pytest.fixture
async def untrusting(tmp_path: Path) -> AsyncIterator[Live]:
    async for one in _live(tmp_path, "192.0.2.0/24"):  # loopback is not a trusted source
        yield one


async def test_a_deflected_caller_is_texted_chats_and_counts_as_deflected(live: Live) -> None:
    await live.api("PUT", "/api/agents/ana/state", {"state": "available"})
    sip = live.server.settings.sip_listen
    caller = asyncio.ensure_future(place_call(
        f"sip:100@{sip.host}:{sip.port}", from_user=NUMBER, dtmf_at=((2.0, "2"),),
        duration=60.0, timeout=90.0))
    try:
        await until(lambda: any(r.form.get("To", "").endswith(NUMBER)
                                for r in live.twilio.requests), "the SMS to the caller")
        [sms] = [r for r in live.twilio.requests if r.form.get("To", "").endswith(NUMBER)]
        link = LINK.search(sms.form["Body"])
        assert link is not None, "the SMS carries the chat link"
        assert not caller.done(), "the caller keeps their place while the chat is not taken"

        async with live.http.get(live.base + "/chat/continue", params={"t": link.group(1)}) \
                as page:
            assert page.status == 200
            visitor = re.search(r'data-visitor-token="([^"]+)"', await page.text())
        assert visitor is not None
        ws = await live.http.ws_connect(live.base + "/api/chat/ws")
        try:
            await ws.send_json({"type": "hello", "token": visitor.group(1)})
            assert (await ws.receive_json(timeout=5))["type"] == "welcome"
            await ws.send_json({"type": "message", "id": "l1", "body": "Hello from the link"})
            while (await ws.receive_json(timeout=5))["type"] != "receipt":
                pass
        finally:
            await ws.close()

        await until(lambda: bool(live.router.offers_of("ana")), "the chat offered to ana")
        offer = live.router.offers_of("ana")[0]
        chat = await live.router.accept("ana", offer["offer_id"])
        # The chat is on the call's case, which carries the call's summary.
        timeline = await live.store.timeline(chat.case_id)
        calls = [i for i in timeline["interactions"] if i["channel"] == "voice"]
        assert len(calls) == 1
        assert timeline["summary"] is not None

        result = await asyncio.wait_for(caller, 30)
        assert result.connected and result.remote_hangup, result
        assert result.duration < 55.0, result  # released, not its own 60 s hang-up
    finally:
        if not caller.done():
            caller.cancel()
    for _ in range(100):
        status, figures = await live.api("GET", "/api/queues/support/figures")
        if figures.get("deflected") == 1:
            break
        await asyncio.sleep(0.1)
    assert status == 200
    assert (figures["deflected"], figures["abandoned"], figures["offered"]) == (1, 0, 1), figures


async def test_an_untrusted_caller_pressing_the_key_is_never_texted(
    untrusting: Live, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="routing.waiting")
    live = untrusting
    sip = live.server.settings.sip_listen
    result = await place_call(f"sip:100@{sip.host}:{sip.port}", from_user=NUMBER,
                              dtmf_at=((2.0, "2"),), duration=8.0, timeout=40.0)
    assert result.connected, result
    assert live.twilio.requests == []
    assert "chat link refused" in caplog.text  # the key was heard, and refused
    status, figures = await live.api("GET", "/api/queues/support/figures")
    assert (figures["deflected"], figures["abandoned"]) == (0, 1), figures
