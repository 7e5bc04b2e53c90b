"""`BrowserCallers` against a real aiortc peer on loopback (the chat widget's "call us"):
the browser's call runs through the handler as an untrusted inbound call of the chat's
customer, audio flows both ways, and it ends cleanly whoever ends it; offers that cannot be
answered and calls past the cap are refused with nothing left running."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from media.frames import AudioFrame
from media.player import ToneGenerator
from media.ticker import MediaTicker
from tests.helpers.webrtc_peer import ClientPeer
from tests.webrtc.conftest import dominant_hz, rms, tone
from voice.call import Call, CallState, Direction
from voice.webrtc.browser_caller import CHAT_CALLER, BrowserCallers
from voice.webrtc.errors import OfferError, TooManyCalls

LOOPBACK = ("127.0.0.1",)
VISITOR_HZ = 300.0
IVR_HZ = 1000.0
WAIT_S = 15.0


class Handler:
    """Answers, plays a tone, keeps what the caller says, and waits for the call's end
    (or hangs up itself when `hang_up_after` frames were heard)."""

    def __init__(self, hang_up_after: int | None = None) -> None:
        self.calls: list[Call] = []
        self.heard: list[AudioFrame] = []
        self.hang_up_after = hang_up_after
        self.returned = asyncio.Event()

    async def __call__(self, call: Call) -> None:
        self.calls.append(call)
        await call.answer()
        media = call.media()
        assert media is not None
        media.add_listener(self.heard.append)
        media.play(ToneGenerator((IVR_HZ,), 8000, level_dbfs=-10.0))
        try:
            while call.state is not CallState.ENDED:
                if self.hang_up_after is not None and len(self.heard) >= self.hang_up_after:
                    call.hangup("ivr-done")
                    break
                await asyncio.sleep(0.02)
        finally:
            self.returned.set()


async def until(cond: object) -> None:
    async with asyncio.timeout(WAIT_S):
        while not cond():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_the_browser_call_runs_the_handler_untrusted_on_the_chats_customer(
    ticker: MediaTicker,
) -> None:
    handler = Handler(hang_up_after=100)
    callers = BrowserCallers(ticker=ticker, handler=handler, host_addresses=LOOPBACK)
    client = ClientPeer(tone(VISITOR_HZ, 48000, 5.0), ("opus",))
    try:
        placed = await callers.place(await client.offer(), customer_id=42, dialed="chat")
        await client.answer(placed.answer_sdp)
        await until(lambda: handler.calls)
        call = handler.calls[0]
        assert call.direction is Direction.INBOUND and call.customer_id == 42
        assert call.dialed == "chat" and call.caller == CHAT_CALLER
        assert not call.trusted  # a web page never makes the server dial out
        placed.press("2#")  # the widget's keypad: the call's DTMF, for the IVR
        assert call.digits == ["2", "#"] and call.digit_sources == ["chat", "chat"]
        await until(lambda: len(handler.heard) >= 100)
        got = np.concatenate([f.samples for f in handler.heard[-25:]])
        assert abs(dominant_hz(got) - VISITOR_HZ) < 20 and rms(got) > 2000
        await until(lambda: len(client.heard.audio()) >= 8000)
        out = client.heard.audio()[-4000:]
        assert abs(dominant_hz(out) - IVR_HZ) < 20
        # The handler hung up: the leg is closed, nothing is left live or on the clock.
        async with asyncio.timeout(WAIT_S):
            assert await placed.wait_ended() == "ivr-done"
        assert callers.live == {} and callers.stats().placed == 1
        assert len(ticker) == 0
    finally:
        await callers.close()
        await client.close()


async def test_the_owner_hangs_up_and_the_handler_sees_the_end(ticker: MediaTicker) -> None:
    handler = Handler()
    callers = BrowserCallers(ticker=ticker, handler=handler, host_addresses=LOOPBACK)
    client = ClientPeer(tone(VISITOR_HZ, 48000, 5.0), ("PCMU",))
    try:
        placed = await callers.place(await client.offer(), customer_id=7, dialed="chat")
        await client.answer(placed.answer_sdp)
        await until(lambda: handler.calls and handler.heard)
        # The ACD's bridged hook: the widget learns an agent took the call.
        await callers.bridged(handler.calls[0], handler.calls[0])
        async with asyncio.timeout(1):
            await placed.wait_agent()
        placed.hangup()
        async with asyncio.timeout(WAIT_S):
            assert await placed.wait_ended() == "caller-hung-up"
            await handler.returned.wait()
        assert callers.live == {}
    finally:
        await callers.close()
        await client.close()


async def test_a_browser_that_never_connects_is_hung_up(ticker: MediaTicker) -> None:
    handler = Handler()
    callers = BrowserCallers(ticker=ticker, handler=handler, host_addresses=LOOPBACK,
                             connect_timeout_s=0.5)
    client = ClientPeer(tone(VISITOR_HZ, 48000, 1.0), ("opus",))
    try:
        placed = await callers.place(await client.offer(), customer_id=7, dialed="chat")
        # The answer never reaches the browser.
        async with asyncio.timeout(WAIT_S):
            assert await placed.wait_ended() == "webrtc-failed"
        assert handler.calls == [] and callers.live == {}
        assert callers.stats().failed_to_connect == 1
    finally:
        await callers.close()
        await client.close()


async def test_bad_offers_and_calls_past_the_cap_are_refused(ticker: MediaTicker) -> None:
    handler = Handler()
    callers = BrowserCallers(ticker=ticker, handler=handler, host_addresses=LOOPBACK,
                             max_live=1)
    with pytest.raises(OfferError):
        await callers.place("v=0\r\ns=-\r\n", customer_id=7, dialed="chat")
    assert callers.live == {}
    first = ClientPeer(tone(VISITOR_HZ, 48000, 2.0), ("opus",))
    second = ClientPeer(tone(VISITOR_HZ, 48000, 2.0), ("opus",))
    try:
        placed = await callers.place(await first.offer(), customer_id=7, dialed="chat")
        with pytest.raises(TooManyCalls):
            await callers.place(await second.offer(), customer_id=8, dialed="chat")
        assert callers.stats().refused == 1 and list(callers.live) == [placed.id]
    finally:
        await callers.close()
        await first.close()
        await second.close()
    assert callers.live == {}
