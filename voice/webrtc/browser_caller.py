"""The chat widget's "call us": a visitor's browser as the caller of an inbound call.

    widget ──offer (chat socket)──▶ BrowserCallers.place(offer, customer_id, dialed)
                                     ├─ WebRtcLeg.accept (the desk's own leg, aiortc)
                                     ├─ Call(INBOUND, caller leg, customer_id, untrusted)
                                     └─ task: connect ▶ handler(call) ▶ hang up ▶ close leg
    widget ◀──answer SDP──────────── BrowserCall.answer_sdp

The call runs through the server's call handler, the very one SIP and Twilio calls run
through (IVR flow bound to `dialed`, queue, case, transcription, recording), with two
differences the handler sees on the `Call`: its `customer_id` is the chat visitor's customer,
so its interaction lands on the chat's case (`cases.store.start_voice_interaction`), and it is
never trusted (`trusted_by` None): a web page can reach the IVR and the queue, never make the
server dial, text or email (`voice.trust`, `voice.dialplan`).

Each call is owned by one task here; `close()` hangs every call up and awaits the tasks. The
call ends when the handler hangs up, the browser's connection fails or closes, or the owner
calls `BrowserCall.hangup()`. Admission (who may call, how often) is the chat's business
(`channels.chat_call`); this service only caps how many calls run at once (`max_live`), since
each costs a share of a core (DESIGN.md: ~7% PCMU, ~20% Opus).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from media.ticker import MediaTicker
from voice.call import Call, CallState, Direction
from voice.webrtc.call_leg import CONNECT_TIMEOUT_S, WebRtcCallLeg
from voice.webrtc.errors import TooManyCalls
from voice.webrtc.leg import LegState, WebRtcLeg

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]

#: What the case and the desk show as the caller of a call from the chat widget (there is no
#: number: the customer is known from the chat).
CHAT_CALLER = "web-chat"
DEFAULT_MAX_LIVE = 20
KEY_MS = 100  # the duration a keypad press is reported with (a typical DTMF tone)


@dataclass(frozen=True)
class BrowserStats:
    placed: int
    refused: int
    failed_to_connect: int
    live: int


class BrowserCall:
    """One placed call: its id, the answer SDP for the browser, hang-up and end."""

    def __init__(self, call: Call, leg: WebRtcCallLeg, answer_sdp: str) -> None:
        self.call = call
        self.leg = leg
        self.answer_sdp = answer_sdp
        self.task: asyncio.Task[None] | None = None
        self._agent = asyncio.Event()  # set when the queue bridged an agent to the call

    @property
    def id(self) -> str:
        return self.call.id

    def hangup(self, cause: str = "caller-hung-up") -> None:
        """End the call from the browser's side (the widget's hang-up button)."""
        self.call.hangup(cause)

    def press(self, digits: str) -> None:
        """Keys the visitor pressed on the widget's keypad: the call's DTMF, as a SIP phone's
        RFC 4733 events are (the signalling carries them: a browser's own DTMF sender would
        need telephone-event decoding in the leg)."""
        if self.call.state is CallState.ENDED:
            return
        for digit in digits:
            self.call.digit(digit, KEY_MS, "chat")

    async def wait_agent(self) -> None:
        """Return once an agent has been bridged to the call (the widget says so)."""
        await self._agent.wait()

    async def wait_ended(self) -> str:
        """Wait for the call's end and its teardown; the end cause."""
        await self.call.wait_ended()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.task)
        return self.call.end_cause or "ended"


class BrowserCallers:
    """Every browser-caller call of the server (see the module doc)."""

    def __init__(
        self, *, ticker: MediaTicker, handler: CallHandler,
        host_addresses: Sequence[str] | None = None,
        codecs: Sequence[str] = ("opus", "PCMU"), max_live: int = DEFAULT_MAX_LIVE,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.ticker = ticker
        self.handler = handler
        self.host_addresses = host_addresses
        self.codecs = tuple(codecs)
        self.max_live = max_live
        self.connect_timeout_s = connect_timeout_s
        self.live: dict[str, BrowserCall] = {}
        self.placed = self.refused = self.failed_to_connect = 0

    def stats(self) -> BrowserStats:
        return BrowserStats(self.placed, self.refused, self.failed_to_connect, len(self.live))

    async def place(
        self, offer_sdp: str, *, customer_id: int, dialed: str, caller: str = CHAT_CALLER,
    ) -> BrowserCall:
        """Answer the browser's offer and start its call into the handler. Raises
        `OfferError` for an offer that cannot be answered, `TooManyCalls` at `max_live`."""
        if len(self.live) >= self.max_live:
            self.refused += 1
            raise TooManyCalls(f"{self.max_live} browser calls are live already")
        call_id = f"chat-{uuid.uuid4().hex[:12]}"
        media = await WebRtcLeg.accept(offer_sdp, ticker=self.ticker, codecs=self.codecs,
                                       host_addresses=self.host_addresses, leg_id=call_id)
        leg = WebRtcCallLeg(media)
        call = Call(call_id, Direction.INBOUND, leg, caller=caller, dialed=dialed,
                    trusted_by=None, customer_id=customer_id)
        placed = BrowserCall(call, leg, media.answer_sdp)
        self.live[call_id] = placed
        self.placed += 1
        placed.task = asyncio.create_task(self._run(placed), name=f"browser-call-{call_id}")
        log.info("browser call %s placed (%s)", call_id, media.codec)
        return placed

    async def bridged(self, caller: Call, agent_call: Call) -> None:
        """The ACD's bridged hook (`routing.acd.Acd.on_bridged`): an agent took `caller`."""
        placed = self.live.get(caller.id)
        if placed is not None:
            placed._agent.set()

    async def _run(self, placed: BrowserCall) -> None:
        call, leg = placed.call, placed.leg
        handler: asyncio.Future[None] | None = None
        try:
            if not await self._connected(placed):
                return
            handler = asyncio.ensure_future(self._handle(call))
            gone = asyncio.ensure_future(leg.media.wait_ended())
            ended = asyncio.ensure_future(call.wait_ended())
            try:
                await asyncio.wait({handler, gone, ended}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (gone, ended):
                    task.cancel()
                await asyncio.gather(gone, ended, return_exceptions=True)
            if leg.media.state is not LegState.CONNECTED and call.state is not CallState.ENDED:
                call.ended("caller-browser-gone")
            # The handler sees the end through the call and returns (as for a SIP BYE).
            await handler
        except asyncio.CancelledError:
            call.hangup("shutdown")
            raise
        finally:
            if call.state is not CallState.ENDED:
                call.hangup("handler-done")
            if handler is not None and not handler.done():
                handler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await handler
            leg.hangup()
            await leg.closed()
            self.live.pop(call.id, None)
            log.info("browser call %s ended (%s)", call.id, call.end_cause)

    async def _connected(self, placed: BrowserCall) -> bool:
        call, media = placed.call, placed.leg.media
        ended = asyncio.ensure_future(call.wait_ended())
        connected = asyncio.ensure_future(media.wait_connected())
        try:
            done, _ = await asyncio.wait({ended, connected}, timeout=self.connect_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ended, connected):
                task.cancel()
            await asyncio.gather(ended, connected, return_exceptions=True)
        if connected in done and connected.exception() is None:
            return True
        if call.state is not CallState.ENDED:
            self.failed_to_connect += 1
            log.info("browser call %s did not connect", call.id)
            call.hangup("webrtc-failed")
        return False

    async def _handle(self, call: Call) -> None:
        try:
            await self.handler(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: handler failed; hanging up", call.id)
            call.hangup("handler-error")

    async def close(self) -> None:
        """Hang up every browser call and wait for their tasks."""
        placed = list(self.live.values())
        for one in placed:
            one.call.hangup("shutdown")
        tasks = [one.task for one in placed if one.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
