"""The chat's "call us" on its own: `ChatCalls` admits one call per visitor at a time and a
few per window, and `ChatConversation` carries the offer, the answer, the hang-up and the
end over the widget's socket, on the visitor's case. The placer here is a fake (the media
side is tested with a real peer in tests/webrtc/test_browser_caller.py, and end to end in
Chromium in tests/handover/test_chat_call.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from channels.chat import ChatService
from channels.chat_call import CALLS_PER_WINDOW, CallRefused, ChatCalls
from channels.chat_config import ChatConfigError, ChatSettings, parse_chat_settings
from channels.chat_protocol import ProtocolError, parse
from channels.chat_session import ChatConversation
from channels.chat_tokens import VisitorTokens
from voice.webrtc.errors import OfferError, TooManyCalls

OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"


class FakeCall:
    def __init__(self, customer_id: int, dialed: str) -> None:
        self.id = f"chat-{customer_id}"
        self.answer_sdp = "v=0 answer"
        self.customer_id = customer_id
        self.dialed = dialed
        self.cause: str | None = None
        self.keys = ""
        self.agent = asyncio.Event()
        self._ended = asyncio.Event()

    async def wait_agent(self) -> None:
        await self.agent.wait()

    def press(self, digits: str) -> None:
        self.keys += digits

    def hangup(self, cause: str = "caller-hung-up") -> None:
        if self.cause is None:
            self.cause = cause
        self._ended.set()

    async def wait_ended(self) -> str:
        await self._ended.wait()
        return self.cause or "ended"


class FakePlacer:
    def __init__(self) -> None:
        self.placed: list[FakeCall] = []
        self.refuse: Exception | None = None

    async def place(self, offer_sdp: str, *, customer_id: int, dialed: str) -> FakeCall:
        if self.refuse is not None:
            raise self.refuse
        call = FakeCall(customer_id, dialed)
        self.placed.append(call)
        return call


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_one_call_per_visitor_at_a_time_and_a_few_per_window() -> None:
    placer, clock = FakePlacer(), Clock()
    calls = ChatCalls(placer, dialed="chat", monotonic=clock)
    first = await calls.start("v1", 7, OFFER)
    assert placer.placed[0].dialed == "chat" and placer.placed[0].customer_id == 7
    with pytest.raises(CallRefused) as busy:
        await calls.start("v1", 7, OFFER)
    assert busy.value.code == "busy"
    other = await calls.start("v2", 8, OFFER)  # another visitor is not held up
    calls.ended("v1")
    first.hangup()
    for _ in range(CALLS_PER_WINDOW - 1):
        await calls.start("v1", 7, OFFER)
        calls.ended("v1")
    with pytest.raises(CallRefused) as limited:
        await calls.start("v1", 7, OFFER)
    assert limited.value.code == "rate_limited" and limited.value.retry_after
    clock.now += limited.value.retry_after
    await calls.start("v1", 7, OFFER)
    other.hangup()


@pytest.mark.parametrize(("error", "code"), [
    (OfferError("no audio"), "bad_offer"), (TooManyCalls("20 live"), "unavailable")])
async def test_a_refused_placement_frees_the_visitor(error: Exception, code: str) -> None:
    placer = FakePlacer()
    calls = ChatCalls(placer, dialed="chat")
    placer.refuse = error
    with pytest.raises(CallRefused) as refused:
        await calls.start("v1", 7, OFFER)
    assert refused.value.code == code
    assert not calls.live("v1")
    placer.refuse = None
    await calls.start("v1", 7, OFFER)


def test_the_frames_and_the_setting() -> None:
    assert parse(json.dumps({"type": "call", "sdp": OFFER})).sdp == OFFER  # type: ignore[union-attr]
    assert type(parse('{"type":"hangup"}')).__name__ == "HangUp"
    assert parse('{"type":"dtmf","digits":"12#"}').digits == "12#"  # type: ignore[union-attr]
    for bad, where in ((json.dumps({"type": "call", "sdp": "hello"}), "sdp"),
                       (json.dumps({"type": "call", "sdp": "v=0" + "x" * 30_000}), "sdp"),
                       ('{"type":"hangup","now":true}', "now"),
                       ('{"type":"dtmf","digits":"1x"}', "digits"),
                       ('{"type":"dtmf","digits":""}', "digits")):
        with pytest.raises(ProtocolError) as exc:
            parse(bad)
        assert exc.value.where == where
    assert parse_chat_settings({"call_to": "chat"}, "c").call_to == "chat"
    assert parse_chat_settings({}, "c").call_to is None
    with pytest.raises(ChatConfigError, match="call_to"):
        parse_chat_settings({"call_to": ""}, "c")
    with pytest.raises(ChatConfigError, match="call_max_live"):
        parse_chat_settings({"call_max_live": 0}, "c")


class Socket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.got = asyncio.Condition()

    async def send(self, text: str) -> None:
        async with self.got:
            self.frames.append(json.loads(text))
            self.got.notify_all()

    async def wait_for(self, check: Any) -> None:
        async with self.got:
            await asyncio.wait_for(self.got.wait_for(lambda: check(self.frames)), 5)

    def calls(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "call"]


async def test_the_socket_places_the_call_on_the_visitors_case(db_url: str) -> None:
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    placer = FakePlacer()
    try:
        service = ChatService(cases, bus, VisitorTokens(b"k" * 32), ChatSettings(),
                              calls=ChatCalls(placer, dialed="chat"))
        socket = Socket()
        conversation = ChatConversation(service, socket.send)
        await conversation.handle('{"type":"hello"}')
        assert socket.frames[0]["type"] == "welcome" and socket.frames[0]["calls"] is True
        await conversation.handle('{"type":"dtmf","digits":"1"}')  # no call yet
        assert socket.frames[-1]["type"] == "error" and socket.frames[-1]["where"] == "type"
        await conversation.handle('{"type":"message","id":"v1","body":"my parcel"}')
        case_id = conversation.case_id
        assert case_id is not None

        await conversation.handle(json.dumps({"type": "call", "sdp": OFFER}))
        assert socket.calls() == [{"type": "call", "state": "answered", "sdp": "v=0 answer"}]
        chat = await service.existing_conversation(conversation.visitor)  # type: ignore[arg-type]
        assert chat is not None and placer.placed[0].customer_id == chat.customer_id
        assert chat.case_id == case_id

        await conversation.handle(json.dumps({"type": "call", "sdp": OFFER}))
        assert socket.calls()[-1]["state"] == "refused"
        assert socket.calls()[-1]["code"] == "busy"

        await conversation.handle('{"type":"dtmf","digits":"2"}')
        await conversation.handle('{"type":"dtmf","digits":"#"}')
        assert placer.placed[0].keys == "2#"
        placer.placed[0].agent.set()  # the queue bridged an agent: the widget is told
        await socket.wait_for(lambda f: f[-1] == {"type": "call", "state": "agent"})
        await conversation.handle('{"type":"hangup"}')
        await socket.wait_for(lambda f: any(
            x["type"] == "call" and x["state"] == "ended" for x in f))
        assert placer.placed[0].cause == "caller-hung-up"
        assert socket.calls()[-1] == {"type": "call", "state": "ended",
                                      "message": "caller-hung-up"}
        # Over: the visitor may call again; closing the socket hangs that call up.
        await conversation.handle(json.dumps({"type": "call", "sdp": OFFER}))
        assert socket.calls()[-1]["state"] == "answered"
        await conversation.close()
        assert placer.placed[1].cause == "chat-closed"
        assert service.calls is not None and not service.calls.live(
            conversation.visitor.visitor_id)  # type: ignore[union-attr]
    finally:
        await cases.close()


async def test_a_visitor_who_calls_before_writing_gets_a_case(db_url: str) -> None:
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    placer = FakePlacer()
    try:
        service = ChatService(cases, bus, VisitorTokens(b"k" * 32), ChatSettings(),
                              calls=ChatCalls(placer, dialed="chat"))
        socket = Socket()
        conversation = ChatConversation(service, socket.send)
        await conversation.handle('{"type":"hello"}')
        await conversation.handle(json.dumps({"type": "call", "sdp": OFFER}))
        assert conversation.case_id is not None
        timeline = await cases.timeline(conversation.case_id)
        assert timeline["customer"]["id"] == placer.placed[0].customer_id
        await conversation.close()
    finally:
        await cases.close()


async def test_without_call_to_the_widget_offers_no_calls(tmp_path: Path) -> None:
    bus = InProcessBus()
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/c.db", bus=bus)
    try:
        service = ChatService(cases, bus, VisitorTokens(b"k" * 32), ChatSettings())
        socket = Socket()
        conversation = ChatConversation(service, socket.send)
        await conversation.handle('{"type":"hello"}')
        assert "calls" not in socket.frames[0]
        await conversation.handle(json.dumps({"type": "call", "sdp": OFFER}))
        assert socket.calls() == [{"type": "call", "state": "refused", "code": "unavailable",
                                   "message": "calls are not offered on this chat"}]
        await conversation.close()
    finally:
        await cases.close()


def test_the_widgets_words_are_in_both_catalogues() -> None:
    """Every key of the widget's English catalogue (the call bar's included) is in the
    Spanish one, and the other way round."""
    import re

    static = Path(__file__).resolve().parents[2] / "web" / "chat" / "static"
    keys = [set(re.findall(r"^\s*(\w+):", (static / "i18n" / f"{lang}.js").read_text(),
                           re.MULTILINE)) for lang in ("en", "es")]
    assert keys[0] == keys[1]
    assert {"call", "hangUp", "keypad", "callStates", "callErrors", "agent", "noMic",
            "busy", "rate_limited", "unavailable", "bad_offer"} <= keys[0]
    call_js = (static / "call.js").read_text()
    for used in set(re.findall(r"this\.t\.(?:callStates\.)?(\w+)", call_js)) - {"callStates",
                                                                                "callErrors"}:
        assert used in keys[0], used
