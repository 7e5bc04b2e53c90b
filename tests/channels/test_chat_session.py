"""`ChatConversation` on its own, with a socket that stalls: the case's event bus drops the
oldest events waiting for it, and the conversation replays the stored lines it missed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cases.events import InProcessBus
from cases.store import CaseStore
from channels.chat import ChatService
from channels.chat_config import ChatSettings
from channels.chat_session import SOCKET_QUEUE, ChatConversation
from channels.chat_tokens import VisitorTokens


class StallingSocket:
    """Takes frames; once `stall` is cleared, blocks until it is set again."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.stall = asyncio.Event()
        self.stall.set()
        self.got = asyncio.Condition()

    async def send(self, text: str) -> None:
        await self.stall.wait()
        async with self.got:
            self.frames.append(json.loads(text))
            self.got.notify_all()

    async def wait_for(self, check: Any) -> None:
        async with self.got:
            await asyncio.wait_for(self.got.wait_for(lambda: check(self.frames)), 5)


async def test_a_stalled_socket_gets_the_lines_the_bus_dropped(db_url: str) -> None:
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    try:
        service = ChatService(cases, bus, VisitorTokens(b"k" * 32), ChatSettings())
        socket = StallingSocket()
        conversation = ChatConversation(service, socket.send)
        await conversation.handle('{"type":"hello"}')
        await conversation.handle('{"type":"message","id":"v1","body":"hola"}')
        await socket.wait_for(lambda f: any(x["type"] == "line" for x in f))
        assert conversation.case_id is not None

        socket.stall.clear()  # the visitor's network stalls
        await service.agent_line(conversation.case_id, "ana", "¿Sigue ahí?")
        await asyncio.sleep(0.05)  # the forwarder takes that line and blocks sending it
        await service.agent_line(conversation.case_id, "ana", "Le dejo el enlace")
        for n in range(SOCKET_QUEUE + 10):  # typing flickers push that line out of the queue
            await service.typing(conversation.case_id, "agent", n % 2 == 0)
        socket.stall.set()
        await socket.wait_for(lambda f: [x["body"] for x in f if x["type"] == "line"]
                              == ["hola", "¿Sigue ahí?", "Le dejo el enlace"])
        await conversation.close()
    finally:
        await cases.close()


async def test_a_signed_in_users_page_load_opens_no_chat_until_they_write(
    db_url: str,
) -> None:
    """A site's signed-in user loads a page (the widget says hello): nothing is opened on their
    case (before: every page view opened a chat interaction for an agent to see); their first
    line opens it, and the next page load follows that conversation with its history."""
    from channels.chat_tokens import user_hash

    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    secret = b"site-secret-for-the-test-0123456789"
    try:
        service = ChatService(cases, bus, VisitorTokens(b"k" * 32),
                              ChatSettings(site_secrets=(secret,)))
        hello = json.dumps({"type": "hello", "user_id": "u-42",
                            "user_hash": user_hash(secret, "u-42")})
        first = StallingSocket()
        page = ChatConversation(service, first.send)
        await page.handle(hello)
        await first.wait_for(lambda f: any(x["type"] == "welcome" for x in f))
        assert page.case_id is None
        assert await cases.find_text_interaction(channel="chat", address="site:u-42") is None

        await page.handle('{"type":"message","id":"v1","body":"hola"}')
        await first.wait_for(lambda f: any(x["type"] == "line" for x in f))
        opened = await cases.find_text_interaction(channel="chat", address="site:u-42")
        assert opened is not None and opened.case_id == page.case_id

        second = StallingSocket()
        reload = ChatConversation(service, second.send)
        await reload.handle(hello)
        await second.wait_for(lambda f: [x.get("body") for x in f if x["type"] == "line"]
                              == ["hola"])
        assert reload.case_id == page.case_id
        await page.close()
        await reload.close()
    finally:
        await cases.close()


async def test_the_visitor_sees_when_an_agent_read_their_lines(db_url: str) -> None:
    """An agent opens the conversation (`CaseStore.mark_read`): the visitor's lines become
    `read`, the socket gets a `status` frame for each, and a second read changes nothing."""
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    try:
        service = ChatService(cases, bus, VisitorTokens(b"k" * 32), ChatSettings())
        socket = StallingSocket()
        conversation = ChatConversation(service, socket.send)
        await conversation.handle('{"type":"hello"}')
        await conversation.handle('{"type":"message","id":"v1","body":"hola"}')
        await conversation.handle('{"type":"message","id":"v2","body":"¿hay alguien?"}')
        await socket.wait_for(lambda f: sum(x["type"] == "receipt" for x in f) == 2)
        ids = [x["id"] for x in socket.frames if x["type"] == "receipt"]
        assert conversation.case_id is not None
        interaction = (await cases.timeline(conversation.case_id))["interactions"][0]["id"]

        assert await cases.mark_read(interaction) == 2
        await socket.wait_for(lambda f: sorted(x["id"] for x in f if x["type"] == "status"
                                               and x["status"] == "read") == sorted(ids))
        assert await cases.mark_read(interaction) == 0
        timeline = await cases.timeline(conversation.case_id)
        statuses = [e["message"]["status"] for e in timeline["entries"] if e["type"] == "message"]
        assert statuses == ["read", "read"]
        await conversation.close()
    finally:
        await cases.close()
