"""`SipCallLeg`: a Call's leg carried by SIP signalling (`InviteSession`) and RTP (`SipLeg`).

It answers with the SDP negotiated at INVITE time, puts the far end on hold with a
re-INVITE (`a=sendonly`; the peer answers `recvonly`) and resumes with `sendrecv`, and answers
the peer's own hold re-INVITEs, reporting them to the Call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from media.player import AudioSource
from voice.leg_media import LegMedia
from voice.sdp import (
    Direction,
    SdpError,
    SessionDescription,
    accept_answer,
    answer_offer,
    with_direction,
)
from voice.sip.errors import SipParseError
from voice.sip.session import InviteSession
from voice.sip_leg import SipLeg

log = logging.getLogger(__name__)


class SipCallLeg:
    """Implements `voice.call.CallLeg` over one INVITE session and its RTP stream."""

    def __init__(
        self,
        session: InviteSession,
        media: SipLeg,
        local_sdp: SessionDescription,
        media_host: str,
        on_remote_hold: Callable[[bool], None] | None = None,
    ) -> None:
        self.session = session
        self.media = media
        self.local_sdp = local_sdp
        self._media_host = media_host
        self._session_id = local_sdp.origin.session_id
        # Told when the far end puts us on hold or resumes (its re-INVITE); the Call sets it.
        self.on_remote_hold = on_remote_hold
        session.on_reinvite = self._remote_reinvite

    # -- CallLeg --------------------------------------------------------------------------------
    def ring(self) -> None:
        self.session.ring()

    async def answer(self) -> None:
        self.session.answer(bytes(self.local_sdp))

    async def hold(self) -> None:
        await self._reoffer(Direction.SENDONLY)

    async def unhold(self) -> None:
        await self._reoffer(Direction.SENDRECV)

    def hangup(self) -> None:
        self.session.hangup()

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        self.media.play(source, on_done)

    def send_dtmf(self, digits: str) -> None:
        self.media.send_dtmf(digits)

    def leg_media(self) -> LegMedia:
        """The RTP stream's audio: taps in and out, play, tick."""
        return self.media

    # -- re-INVITEs -----------------------------------------------------------------------------
    async def _reoffer(self, direction: Direction) -> None:
        offer = with_direction(self.local_sdp, direction)
        answer_bytes = await self.session.reinvite(bytes(offer))
        self.local_sdp = offer
        try:
            params = accept_answer(offer, SessionDescription.parse(answer_bytes))
        except SdpError as exc:
            log.warning("call %s: bad SDP in re-INVITE answer: %s", self.session.call_id, exc)
            return
        self.media.apply(params)

    def _remote_reinvite(self, sdp: bytes) -> bytes:
        """Answer the peer's re-INVITE (hold, resume, new address); a bad offer gets a 488."""
        if not sdp:
            # An offerless re-INVITE asks us to offer: the 2xx carries our current SDP.
            return bytes(self.local_sdp)
        try:
            offer = SessionDescription.parse(sdp)
        except SdpError as exc:
            # The session answers a SipError with 488 and the reason; the call goes on.
            raise SipParseError(f"bad SDP: {exc}") from exc
        version = self.local_sdp.origin.version + 1
        assert self.media.rtp.local_port is not None
        try:
            answer, params = answer_offer(
                offer, self._media_host, self.media.rtp.local_port,
                session_id=self._session_id, version=version,
            )
        except SdpError as exc:
            raise SipParseError(f"unacceptable SDP: {exc}") from exc
        self.local_sdp = answer
        self.media.apply(params)
        held = params.on_hold or params.direction in (Direction.RECVONLY, Direction.INACTIVE)
        if self.on_remote_hold is not None:
            self.on_remote_hold(held)
        return bytes(answer)
