"""`ChatConversation` on its own, with a socket that stalls: the case's event bus drops the
oldest events waiting for it, and the conversation replays the stored lines it missed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
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


async def test_a_stalled_socket_gets_the_lines_the_bus_dropped(tmp_path: Path) -> None:
    bus = InProcessBus()
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/c.db", bus=bus)
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
