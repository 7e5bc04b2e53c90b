"""An agent's browser softphone as a `voice.call.Call`: the ACD rings, bridges, holds and
hangs up a browser agent exactly as it does a SIP phone.

`answer_browser(offer_sdp, ...)` answers the browser's WebRTC offer and returns the `Call`
(ACTIVE once media flows) with the answer SDP to send back. The call ends when the browser's
peer connection fails or closes, or when the server hangs up (which closes it).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from media.player import AudioSource
from media.ticker import MediaTicker
from voice.call import Call, Direction
from voice.leg_media import LegMedia
from voice.webrtc.errors import WebRtcError
from voice.webrtc.leg import LegState, WebRtcLeg

log = logging.getLogger(__name__)

# Offer → connected measured at 176-459 ms on loopback (DESIGN.md); a generous bound.
CONNECT_TIMEOUT_S = 10.0


class WebRtcCallLeg:
    """`voice.call.CallLeg` over a `WebRtcLeg`; `.media` is what the bridge joins."""

    def __init__(self, media: WebRtcLeg) -> None:
        self.media = media
        self._closing: asyncio.Task[None] | None = None

    def ring(self) -> None:
        """The browser rang already (the offer card); nothing to signal."""

    async def answer(self) -> None:
        await self.media.wait_connected()

    async def hold(self) -> None:
        self.media.play(None)

    async def unhold(self) -> None:
        """The bridge plays to the leg again when it resumes."""

    def hangup(self) -> None:
        if self._closing is None:
            self._closing = asyncio.ensure_future(self.media.close())

    async def closed(self) -> None:
        if self._closing is not None:
            await self._closing

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        self.media.play(source, on_done)

    def send_dtmf(self, digits: str) -> None:
        """Nothing to send to the agent's own browser."""

    def leg_media(self) -> LegMedia:
        """The browser's audio: taps in and out, play, tick."""
        return self.media


async def answer_browser(
    offer_sdp: str, *, ticker: MediaTicker, agent_id: str,
    host_addresses: Sequence[str] | None = None, codecs: Sequence[str] = ("opus", "PCMU"),
) -> tuple[Call, str]:
    """The agent's call over the browser's offer, and the answer SDP. Raises `OfferError`
    for an offer that cannot be answered."""
    call_id = f"desk-{uuid.uuid4().hex[:12]}"
    media = await WebRtcLeg.accept(offer_sdp, ticker=ticker, codecs=codecs,
                                   host_addresses=host_addresses, leg_id=call_id)
    leg = WebRtcCallLeg(media)
    call = Call(call_id, Direction.OUTBOUND, leg, caller=agent_id, dialed=agent_id)
    return call, media.answer_sdp


async def until_connected(call: Call, *, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Wait for the browser's media; the call is ACTIVE (True) or hung up (False)."""
    leg = call.leg
    assert isinstance(leg, WebRtcCallLeg)
    try:
        async with asyncio.timeout(timeout_s):
            await leg.media.wait_connected()
    except (TimeoutError, WebRtcError) as exc:
        log.info("agent leg %s did not connect: %s", call.id, exc)
        call.hangup("webrtc-failed")
        await leg.closed()
        return False
    call.connected()
    return True


async def watch(call: Call) -> None:
    """End `call` when the browser's connection goes away (run it as long as the call)."""
    leg = call.leg
    assert isinstance(leg, WebRtcCallLeg)
    ended = asyncio.ensure_future(call.wait_ended())
    gone = asyncio.ensure_future(leg.media.wait_ended())
    try:
        await asyncio.wait({ended, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (ended, gone):
            task.cancel()
        await asyncio.gather(ended, gone, return_exceptions=True)
    if gone.done() and not gone.cancelled() and gone.result() is not LegState.CLOSED:
        call.ended("agent-browser-gone")
    elif gone.done() and not gone.cancelled():
        call.ended("agent-hung-up")
    call.hangup("ended")
    await leg.closed()
