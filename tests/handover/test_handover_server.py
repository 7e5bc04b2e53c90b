"""Handover in the real server (in process, loopback, real HTTP, the real `twilio` client
against the loopback stand-in): the agent continues a case by chat, the SMS carries the
summary and the signed link, the link opens the widget page whose visitor joins the same
case, and the visitor's line on the real chat socket lands on that case and is offered to
the agent who had the customer. Links expired, tampered with, or of a closed case open
nothing and say why."""

from __future__ import annotations

import asyncio
import re
import socket
import time
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
from web.auth.tokens import digest

ACCOUNT = "AC" + "8" * 32
TOKEN = "twilio-auth-token-for-handover-tests"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000000"
CUSTOMER = "+34612345678"
ADMIN_TOKEN = "ctk_tests_handover_" + "h" * 32
ROUTING = """queues:
  - name: support
    channels: [voice, sms, chat]
    offer_timeout: 30
agents:
  - id: ana
    max_concurrent: 3
    capacity: {voice: 1, sms: 2, chat: 2}
    queues: [support]
  - id: bob
    max_concurrent: 3
    capacity: {voice: 1, sms: 2, chat: 2}
    queues: [support]
"""
LINK = re.compile(r"https://contact\.example\.test/pbx/chat/continue\?t=(\S+)")


def sms(sid: str, body: str) -> dict[str, str]:
    return {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": body, "To": OUR_SMS, "NumSegments": "1", "MessageSid": sid,
            "AccountSid": ACCOUNT, "From": CUSTOMER, "ApiVersion": "2010-04-01"}


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

    async def page(self, token: str) -> tuple[int, str]:
        async with self.http.get(self.base + "/chat/continue", params={"t": token}) as resp:
            return resp.status, await resp.text()


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(300):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def live(tmp_path: Path, server_database: ServerDatabase) -> AsyncIterator[Live]:
    (tmp_path / "routing.yaml").write_text(ROUTING)
    async with TwilioStandIn(ACCOUNT, TOKEN) as twilio, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30)) as http:
        low, high = random_rtp_block()
        settings = Settings(
            sip_listen=HostPort(LOOPBACK, free_sip_port()),
            http_listen=HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
            data_dir=tmp_path / "data", rtp_port_min=low, rtp_port_max=high,
            transcription="off", routing_file=tmp_path / "routing.yaml",
            cases_url=server_database.config().get("cases_url"),
            auth=AuthSettings(tokens=(
                ConfigTokenSettings("tests", "admin", digest(ADMIN_TOKEN)),)),
            twilio=TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                                sms_number=OUR_SMS, api_base_url=twilio.base_url),
            chat=ChatSettings())
        server = Server(settings)
        await server.start()
        twilio.forward(PUBLIC, f"http://{settings.http_listen}")
        try:
            yield Live(server, f"http://{settings.http_listen}", http, twilio)
            await twilio.drain()
        finally:
            await server.stop()


async def _sms_case(live: Live) -> tuple[int, str, int]:
    """The customer wrote by SMS and ana took it: (case id, public id, interaction id)."""
    await live.api("PUT", "/api/agents/ana/state", {"state": "available"})
    status, _ = await live.twilio.post_webhook(
        PUBLIC + "/twilio/messaging",
        sms("SM" + "1" * 32, "My order 4567 arrived broken. I want a replacement."))
    assert status == 200
    await until(lambda: bool(live.router.offers_of("ana")), "the offer to ana")
    taken = await live.router.accept("ana", live.router.offers_of("ana")[0]["offer_id"])
    public = await live.store.public_id(taken.case_id)
    timeline = await live.store.timeline(taken.case_id)
    [interaction] = timeline["interactions"]
    await live.store.refresh_summary(int(interaction["id"]))
    return taken.case_id, public, int(interaction["id"])


@pytest.mark.slow
async def test_continue_by_chat_carries_the_summary_and_the_link_joins_the_case(
    live: Live,
) -> None:
    case_id, public, _ = await _sms_case(live)
    status, draft = await live.api("GET", f"/api/cases/{public}/handover")
    assert status == 200, draft
    assert "4567" in draft["text"] and "broken" in draft["text"]
    assert {"sms", "chat"} <= set(draft["channels"])
    before = len(live.twilio.requests)
    status, sent = await live.api("POST", f"/api/cases/{public}/handover",
                                  {"channel": "chat", "text": draft["text"] + " (edited)"})
    assert status == 201, sent
    assert sent["channel"] == "sms"
    [request] = live.twilio.requests[before:]
    assert request.form["To"] == CUSTOMER
    body = request.form["Body"]
    assert "4567" in body and "(edited)" in body
    token = LINK.search(body)
    assert token is not None, body

    status, page = await live.page(token.group(1))
    assert status == 200, page
    visitor = re.search(r'data-visitor-token="([^"]+)"', page)
    assert visitor is not None
    # Opened again (a second device, a link preview): still opens while the case is open.
    assert (await live.page(token.group(1)))[0] == 200

    # The visitor's line on the real socket lands on the same case; ana had the customer,
    # bob is free and has nothing: the chat still goes to ana.
    await live.api("PUT", "/api/agents/bob/state", {"state": "available"})
    ws = await live.http.ws_connect(live.base + "/api/chat/ws")
    try:
        await ws.send_json({"type": "hello", "token": visitor.group(1)})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        await ws.send_json({"type": "message", "id": "l1", "body": "Hi, it is me again"})
        while (await ws.receive_json(timeout=5))["type"] != "receipt":
            pass
    finally:
        await ws.close()
    timeline = await live.store.timeline(case_id)
    chats = [i for i in timeline["interactions"] if i["channel"] == "chat"]
    assert len(chats) == 1 and chats[0]["messages"][0]["body"] == "Hi, it is me again"
    await until(lambda: any(c.channel == "chat" for c in live.router.conversations()),
                "the chat routed")
    [chat] = [c for c in live.router.conversations() if c.channel == "chat"]
    assert chat.case_id == case_id
    assert chat.preferred == "ana"
    await until(lambda: chat.agent == "ana" or bool(live.router.offers_of("ana")),
                "the chat offered to ana")
    assert not live.router.offers_of("bob")


@pytest.mark.slow
async def test_expired_tampered_and_closed_links_open_nothing_and_say_why(live: Live) -> None:
    case_id, public, _ = await _sms_case(live)
    tokens = live.server.handover.tokens
    identities = len((await live.store.timeline(case_id))["identities"])

    expired = tokens.issue(public, now=time.time() - 3600, ttl=60)
    status, page = await live.page(expired)
    assert status == 410 and "expired" in page and "data-visitor-token" not in page

    good = tokens.issue(public, now=time.time(), ttl=600)
    body, mac = good.split(".")
    tampered = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    status, page = await live.page(tampered)
    assert status == 403 and "not valid" in page and "data-visitor-token" not in page
    status, page = await live.page("")
    assert status == 403 and "incomplete" in page

    assert (await live.page(good))[0] == 200  # the good one opens while the case is open
    await live.store.close_case(case_id)
    status, page = await live.page(good)
    assert status == 410 and "closed" in page and "data-visitor-token" not in page
    # Nothing was joined by the refused ones: only the one good open added an identity.
    after = len((await live.store.timeline(case_id))["identities"])
    assert after == identities + 1
