"""Text routing in the real server (in process, on loopback, real HTTP): a signed inbound SMS
through the Twilio webhook becomes a conversation offered to the logged-in agent; the agent's
reply through the REST route and the real `twilio` client (to the loopback stand-in) is the
first response in the routing API's per-channel figures; the customer's next SMS goes to the
same agent; a restart puts the open conversation back in line with that agent preferred.
Three web chat visitors on the real socket: two are the agent's (chat capacity 2), the third
waits until one closes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.chat_config import ChatSettings
from channels.twilio_config import TwilioConfig
from routing.conversations import TextRouter
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import LOOPBACK, free_port, free_sip_port, random_rtp_block
from tests.helpers.twilio_standin import TwilioStandIn
from web.auth.tokens import digest

ACCOUNT = "AC" + "7" * 32
TOKEN = "twilio-auth-token-for-routing-tests"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000000"
SHOP = "https://shop.example.com"
ADMIN_TOKEN = "ctk_tests_textrouting_" + "z" * 32
ROUTING = """queues:
  - name: calls
  - name: support
    channels: [voice, sms, whatsapp, chat]
    response_targets: {sms: 600}
    offer_timeout: 30
agents:
  - id: ana
    max_concurrent: 3
    capacity: {voice: 1, sms: 2, chat: 2}
    queues: [calls, support]
"""


def sms(sid: str, body: str) -> dict[str, str]:
    return {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": body, "To": OUR_SMS, "NumSegments": "1", "MessageSid": sid,
            "AccountSid": ACCOUNT, "From": "+34612345678", "ApiVersion": "2010-04-01"}


@dataclass
class Live:
    server: Server
    base: str
    http: aiohttp.ClientSession
    desk: list[tuple[str, dict[str, Any]]]

    @property
    def router(self) -> TextRouter:
        assert self.server.routing is not None and self.server.routing.text is not None
        return self.server.routing.text

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body, headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
            return response.status, await response.json()


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def start(
    tmp_path: Path, server_database: ServerDatabase
) -> AsyncIterator[Callable[[], Any]]:
    """Starts (and at the end stops) servers sharing one data dir and database."""
    (tmp_path / "routing.yaml").write_text(ROUTING)
    running: list[Server] = []
    async with TwilioStandIn(ACCOUNT, TOKEN) as twilio, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30)) as http:
        low, high = random_rtp_block()
        port = free_port(socket.SOCK_STREAM, also_tcp=False)
        cases_url = server_database.config().get("cases_url")

        async def make() -> tuple[Live, TwilioStandIn]:
            settings = Settings(
                sip_listen=HostPort(LOOPBACK, free_sip_port()),
                http_listen=HostPort(LOOPBACK, port),
                data_dir=tmp_path / "data", rtp_port_min=low, rtp_port_max=high,
                transcription="off", routing_file=tmp_path / "routing.yaml",
                cases_url=cases_url,
                auth=AuthSettings(tokens=(
                    ConfigTokenSettings("tests", "admin", digest(ADMIN_TOKEN)),)),
                twilio=TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                                    sms_number=OUR_SMS, api_base_url=twilio.base_url),
                chat=ChatSettings(allowed_origins=(SHOP,)))
            server = Server(settings)
            await server.start()
            running.append(server)
            twilio.forward(PUBLIC, f"http://{settings.http_listen}")
            desk: list[tuple[str, dict[str, Any]]] = []
            assert server.routing is not None
            server.routing.acd.listeners.append(lambda a, m: desk.append((a, m)))
            return Live(server, f"http://{settings.http_listen}", http, desk), twilio

        try:
            yield make
            await twilio.drain()
        finally:
            for server in running:
                await server.stop()


@pytest.mark.slow
async def test_an_sms_is_routed_answered_timed_and_survives_a_restart(
    start: Callable[[], Any],
) -> None:
    live, twilio = await start()
    assert live.server.routing is not None
    assert live.server.routing.acd.text_router is live.router
    status, _ = await live.api("PUT", "/api/agents/ana/state", {"state": "available"})
    assert status == 200
    assert (await twilio.post_webhook(PUBLIC + "/twilio/messaging", sms("SM" + "1" * 32,
                                                                        "Hola")))[0] == 200
    await until(lambda: bool(live.router.offers_of("ana")), "the offer to ana")
    [offer] = [m for a, m in live.desk if a == "ana" and m["type"] == "conversation_offer"]
    conv = offer["conversation"]
    assert (conv["channel"], conv["queue"], conv["customer"]) == ("sms", "support",
                                                                   "+34612345678")
    status, figures = await live.api("GET", "/api/routing/live")
    assert figures["queues"]["support"]["channels"]["sms"]["waiting"] == 1
    assert figures["queues"]["calls"]["channels"] == {}  # voice only
    taken = await live.router.accept("ana", offer["offer_id"])
    assert live.router.live_cases("ana") == {taken.case_id}

    # The agent answers from the case through the real client: the first response.
    public = await live.server.store.public_id(taken.case_id)
    status, sent = await live.api("POST", f"/api/cases/{public}/messages",
                                  {"channel": "sms", "body": "Dígame"})
    assert status == 201, sent
    await until(lambda: live.router.figures("support")["sms"].responded == 1,
                "the first response")
    status, figures = await live.api("GET", "/api/queues/support/figures")
    assert status == 200
    sms_figures = figures["channels"]["sms"]
    assert (sms_figures["offered"], sms_figures["responded"], sms_figures["threshold"],
            sms_figures["service_level"]) == (1, 1, 600.0, 1.0)

    # The customer writes again: the same conversation, the same agent, one unread.
    await twilio.post_webhook(PUBLIC + "/twilio/messaging", sms("SM" + "2" * 32, "Gracias"))
    await until(lambda: taken.unread == 1, "the reply on ana's conversation")
    updates = [m for a, m in live.desk if m["type"] == "conversation"]
    assert updates[-1]["conversation"]["agent"] == "ana"
    assert all(a == "ana" for a, m in live.desk)

    # A restart: the open conversation is back in line, offered first to ana.
    await live.server.stop()
    live, _ = await start()
    restored = live.router.conversation(taken.id)
    assert restored is not None and restored.preferred == "ana"
    await live.api("PUT", "/api/agents/ana/state", {"state": "available"})
    await until(lambda: bool(live.router.offers_of("ana")), "the restored offer")
    again = await live.router.accept("ana", live.router.offers_of("ana")[0]["offer_id"])
    await live.router.close("ana", again.id)
    assert live.router.conversation(taken.id) is None


def routed(live: Live, count: int) -> Callable[[], bool]:
    return lambda: len(live.router.conversations()) == count


@pytest.mark.slow
async def test_two_chats_are_the_agents_and_the_third_waits_for_one_to_close(
    start: Callable[[], Any],
) -> None:
    live, _ = await start()
    await live.api("PUT", "/api/agents/ana/state", {"state": "available"})
    sockets = []
    try:
        for n in range(3):
            ws = await live.http.ws_connect(live.base + "/api/chat/ws",
                                            headers={"Origin": SHOP})
            sockets.append(ws)
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json(timeout=5))["type"] == "welcome"
            await ws.send_json({"type": "message", "id": f"l{n}", "body": f"hola {n}"})
            while (await ws.receive_json(timeout=5))["type"] != "receipt":
                pass
            await until(routed(live, n + 1), f"conversation {n} routed")
            if n < 2:
                await until(lambda: bool(live.router.offers_of("ana")), f"offer {n}")
                await live.router.accept("ana", live.router.offers_of("ana")[0]["offer_id"])
            else:
                await asyncio.sleep(0.2)  # room for a dispatch pass (that must not offer it)
        mine = live.router.conversations_of("ana")
        assert [c.channel for c in mine] == ["chat", "chat"]
        status, figures = await live.api("GET", "/api/routing/live")
        chat = figures["queues"]["support"]["channels"]["chat"]
        assert (chat["offered"], chat["waiting"]) == (3, 1)
        assert live.router.offers_of("ana") == []
        # ana answers the first visitor through the agents' chat route: a first response.
        assert live.server.store is not None
        public = await live.server.store.public_id(mine[0].case_id)
        status, _ = await live.api("POST", f"/api/cases/{public}/chat", {"body": "¿En qué le ayudo?"})
        assert status == 201
        await until(lambda: live.router.figures("support")["chat"].responded == 1,
                    "the first response")
        await live.router.close("ana", mine[0].id)
        await until(lambda: bool(live.router.offers_of("ana")), "the third chat's offer")
        third = live.router.offers_of("ana")[0]["conversation"]
        assert third["id"] not in {c.id for c in mine}
    finally:
        for ws in sockets:
            await ws.close()
