"""`WebRtcLeg`: a browser's audio as a leg of a call, through aiortc.

To the rest of the server it is media exactly like `voice.sip_leg.SipLeg`: a
`voice.leg_media.LegMedia`, whose audio-in taps get 8 kHz mono 20 ms `AudioFrame`s, whose
`play()` sets what the browser hears, and which the process-wide `MediaTicker` drives: every
20 ms `tick()` hands the oldest received frame to the taps and encodes one frame of what is
played (silence when nothing is) for aiortc to send.

    browser ─SRTP─▶ aiortc receiver ─▶ InboundTap ─▶ decode ─▶ ring (3) ─tick─▶ listeners
    browser ◀─SRTP─ aiortc sender ◀─ OutboundTrack ◀─ encode ◀─tick─ play(source)

The leg does its own encoding and decoding (`voice.webrtc.codecs`); aiortc carries ICE,
DTLS, SRTP, RTP, RTCP and its jitter buffer.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.exceptions import OperationError
from aiortc.sdp import SessionDescription

from media.codecs.g711 import PCMU as G711_PCMU
from media.frames import AudioFrame, Pcm
from media.player import AudioSource, Player
from media.ticker import MediaTicker
from voice.leg_media import TappedLeg
from voice.webrtc import ice
from voice.webrtc.codecs import FRAME, RATE, SUPPORTED, LegCodec, PcmuCodec, make_codec
from voice.webrtc.errors import LegStateError, OfferError, WebRtcError
from voice.webrtc.tracks import InboundTap, OutboundTrack

log = logging.getLogger(__name__)

# Received frames waiting for the tick: three (60 ms) absorb a burst of packets; beyond that
# the oldest is dropped and counted (stale audio is worse than lost audio).
MAX_INBOUND_FRAMES = 3


class LegState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


_MOVES = {
    LegState.CONNECTING: {LegState.CONNECTED, LegState.FAILED, LegState.CLOSED},
    LegState.CONNECTED: {LegState.FAILED, LegState.CLOSED},
    LegState.FAILED: {LegState.CLOSED},
    LegState.CLOSED: set(),
}


@dataclass(frozen=True, slots=True)
class WebRtcLegStats:
    """The leg's media counters.

    `frames_in`: received frames decoded (delivered unless muted); `dropped_in`: received
    frames dropped because more than `MAX_INBOUND_FRAMES` waited for the tick; `underruns`:
    ticks with no received frame once audio had started; `frames_out`: packets aiortc's
    sender took; `dropped_out`: packets dropped because the sender fell behind; `late_out`:
    packets the sender took more than 20 ms after the tick made them.
    """

    codec: str
    frames_in: int
    dropped_in: int
    underruns: int
    decode_errors: int
    frames_out: int
    dropped_out: int
    late_out: int


class WebRtcLeg(TappedLeg):
    """One browser's audio over WebRTC; create it with `await WebRtcLeg.accept(offer)`."""

    def __init__(
        self, pc: RTCPeerConnection, ticker: MediaTicker, track: OutboundTrack, leg_id: str
    ) -> None:
        # Built by `accept()`; the pieces are only valid together.
        self.id = leg_id
        self._pc = pc
        self._ticker = ticker
        self._track = track
        self._tap: InboundTap | None = None
        self._codec: LegCodec = PcmuCodec()
        self._pcmu = True
        self._answer = ""
        self._state = LegState.CONNECTING
        self._changed = asyncio.Event()
        TappedLeg.__init__(self, "webrtc")
        self._source: AudioSource | None = None
        self._player: Player | None = None
        self._on_source_done: Callable[[], None] | None = None
        self._inbound: deque[Pcm] = deque(maxlen=MAX_INBOUND_FRAMES)
        self._carry: Pcm | None = None  # samples of a packet that was not 20 ms long
        self._silence: Pcm = np.zeros(FRAME, np.int16)
        self._muted = False
        self._receiving = False
        self._in_ts = 0
        self.frames_in = 0
        self.dropped_in = 0
        self.underruns = 0
        self.decode_errors = 0

    # -- setup ----------------------------------------------------------------------------------
    @classmethod
    async def accept(
        cls,
        offer_sdp: str,
        *,
        ticker: MediaTicker,
        codecs: Sequence[str] = SUPPORTED,
        host_addresses: Sequence[str] | None = None,
        leg_id: str = "webrtc",
    ) -> WebRtcLeg:
        """Answer a browser's offer; the answer SDP is `leg.answer_sdp`.

        `codecs` is our preference among `opus` and `PCMU`. `host_addresses` are the
        addresses ICE offers (default: aioice's choice, every non-loopback interface);
        loopback addresses confine the leg to loopback (see `voice.webrtc.ice`).
        Raises `OfferError` for an offer that cannot be answered.
        """
        wanted = _codec_names(codecs)
        loopback = ice.loopback_only(host_addresses)
        if loopback:
            offer_sdp = ice.restrict_offer(offer_sdp)
        _check_offer(offer_sdp)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        loop = asyncio.get_running_loop()
        leg = cls(pc, ticker, OutboundTrack(loop.time), leg_id)
        try:
            await leg._negotiate(offer_sdp, wanted, host_addresses, loopback)
        except BaseException:
            await pc.close()
            raise
        ticker.add(leg)
        return leg

    async def _negotiate(
        self, offer_sdp: str, wanted: list[str], host_addresses: Sequence[str] | None,
        loopback: bool,
    ) -> None:
        pc = self._pc
        pc.on("connectionstatechange", self._on_connection_state)
        # Our transceiver exists before the offer is applied, so the offer's audio section
        # takes it and our codec preference is what aiortc negotiates with.
        transceiver = pc.addTransceiver(self._track, direction="sendrecv")
        _prefer(transceiver, wanted)
        # The tap replaces the receiver's decoder queue before the receiver starts (it starts
        # once the answer is set).
        self._tap = InboundTap.install(transceiver.receiver, self._on_encoded)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except OperationError as exc:
            raise OfferError(
                f"no common audio codec: we take {', '.join(wanted)}; "
                f"the offer's audio codecs are {_offered_codecs(offer_sdp) or 'none'}"
            ) from exc
        except _PARSE_ERRORS as exc:
            raise OfferError(f"the offer was refused: {exc}") from exc
        if transceiver.mid is None:
            raise OfferError("the offer's audio section was not matched")
        if host_addresses:
            await ice.pregather(pc, host_addresses)
        if loopback:
            ice.drop_foreign_checks(pc)
        answer = await pc.createAnswer()
        if answer is None:
            raise OfferError("aiortc produced no answer")
        name = _answered_codec(answer.sdp)
        if name is None or name not in wanted:
            raise OfferError(
                f"no common audio codec: we take {', '.join(wanted)}; "
                f"the offer's audio codecs are {_offered_codecs(offer_sdp) or 'none'}"
            )
        self._codec = make_codec(name)
        self._pcmu = isinstance(self._codec, PcmuCodec)
        await pc.setLocalDescription(answer)
        self._answer = pc.localDescription.sdp
        log.info("webrtc leg %s: answered with %s", self.id, name)

    @property
    def answer_sdp(self) -> str:
        """Our SDP answer, with our ICE candidates in it (send it back to the browser)."""
        return self._answer

    @property
    def codec(self) -> str:
        """The negotiated codec: `opus` or `PCMU`."""
        return self._codec.name

    @property
    def state(self) -> LegState:
        return self._state

    async def wait_connected(self) -> None:
        """Return once media can flow; `WebRtcError` if the connection fails or closes.
        Bound it with `asyncio.timeout()`."""
        while self._state is LegState.CONNECTING:
            self._changed.clear()
            await self._changed.wait()
        if self._state is not LegState.CONNECTED:
            raise WebRtcError(f"leg {self.id} is {self._state.value}, not connected")

    async def wait_ended(self) -> LegState:
        """Wait until the connection has failed or the leg was closed."""
        while self._state in (LegState.CONNECTING, LegState.CONNECTED):
            self._changed.clear()
            await self._changed.wait()
        return self._state

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        if state == "connected":
            self._set_state(LegState.CONNECTED)
        elif state == "failed" or (state == "closed" and self._state is not LegState.CLOSED):
            self._set_state(LegState.FAILED)

    def _set_state(self, new: LegState) -> None:
        old = self._state
        if new is old:
            return
        if new not in _MOVES[old]:
            raise LegStateError(f"leg {self.id}: cannot go from {old.value} to {new.value}")
        self._state = new
        log.info("webrtc leg %s: %s -> %s", self.id, old.value, new.value)
        self._changed.set()

    # -- LegMedia ---------------------------------------------------------------------------------

    def play(self, source: AudioSource | None, on_done: Callable[[], None] | None = None) -> None:
        """Replace what the browser hears; `on_done` runs when the source runs dry."""
        if self._state is LegState.CLOSED:
            raise LegStateError(f"leg {self.id} is closed")
        self._source = source
        self._player = (
            source if self._pcmu and isinstance(source, Player)
            and source.can_encode(G711_PCMU) else None
        )
        self._on_source_done = on_done

    @property
    def muted(self) -> bool:
        """Whether the browser's audio is withheld from the listeners (agent mute)."""
        return self._muted

    def set_muted(self, muted: bool) -> None:
        """Mute: received audio is still taken and counted but no listener hears it."""
        self._muted = muted

    # -- received audio -------------------------------------------------------------------------
    def _on_encoded(self, codec_name: str, payload: bytes, timestamp: int) -> None:
        if codec_name.lower() != self._codec.name.lower():
            return
        pcm = self._codec.decode(payload)
        if pcm is None:
            self.decode_errors += 1
            return
        self._receiving = True
        if len(pcm) == FRAME and self._carry is None:
            self._queue(pcm)
            return
        # Packets other than 20 ms (10, 40, 60 ms ptime) are cut back into 20 ms frames.
        joined = pcm if self._carry is None else np.concatenate((self._carry, pcm))
        whole = len(joined) // FRAME * FRAME
        for start in range(0, whole, FRAME):
            self._queue(joined[start : start + FRAME])
        self._carry = joined[whole:] if whole < len(joined) else None

    def _queue(self, pcm: Pcm) -> None:
        if len(self._inbound) == MAX_INBOUND_FRAMES:
            self.dropped_in += 1
        self._inbound.append(pcm)

    # -- the 20 ms tick -------------------------------------------------------------------------
    def tick(self) -> None:
        """Deliver one received frame to the listeners and send one frame of what is played."""
        if self._inbound:
            pcm = self._inbound.popleft()
            self.frames_in += 1
            frame = AudioFrame(pcm, RATE, self._in_ts)
            self._in_ts += FRAME
            if not self._muted and self._taps_in.taps:
                self._taps_in.deliver(frame)
        elif self._receiving:
            self.underruns += 1
        source = self._source
        payload: bytes | None = None
        pcm_out: Pcm | None = None
        if source is not None:
            player = self._player
            if player is not None:
                # A shared prompt is µ-law encoded once per process (media.player).
                payload = player.next_encoded(G711_PCMU)
            else:
                out = source.next_frame()
                pcm_out = out.samples if out is not None else None
            if payload is None and pcm_out is None:
                done, self._on_source_done = self._on_source_done, None
                self._source = self._player = None
                if done is not None:
                    done()
        track = self._track
        if not track.pulling:
            return
        # Stamped from the clock's tick number, skipped ticks included: when the process falls
        # behind, the browser sees a 20 ms gap (concealed) instead of audio delayed for good.
        ticker = self._ticker
        pts = (ticker.ticks + ticker.skipped_ticks) * FRAME
        if self._taps_out.taps:
            heard = (G711_PCMU.decode(payload, pts) if payload is not None
                     else AudioFrame(pcm_out if pcm_out is not None else self._silence, RATE, pts))
            self._taps_out.deliver(heard)
        if payload is not None:
            assert isinstance(self._codec, PcmuCodec)
            track.push(self._codec.encode_bytes(payload, pts))
            return
        packet = self._codec.encode(pcm_out if pcm_out is not None else self._silence, pts)
        if packet is not None:
            track.push(packet)

    # -- figures and teardown -------------------------------------------------------------------
    def stats(self) -> WebRtcLegStats:
        """The leg's counters now."""
        track = self._track
        return WebRtcLegStats(
            codec=self._codec.name,
            frames_in=self.frames_in,
            dropped_in=self.dropped_in,
            underruns=self.underruns,
            decode_errors=self.decode_errors,
            frames_out=track.sent,
            dropped_out=track.dropped,
            late_out=track.late,
        )

    async def rtp_stats(self) -> dict[str, Any]:
        """aiortc's RTP figures for the leg: inbound packets received/lost and jitter."""
        report = await self._pc.getStats()
        out: dict[str, Any] = {}
        for stat in report.values():
            if stat.type == "inbound-rtp":
                out.update(packets_received=stat.packetsReceived,
                           packets_lost=stat.packetsLost, jitter=stat.jitter)
            elif stat.type == "outbound-rtp":
                out.update(packets_sent=stat.packetsSent)
        return out

    async def close(self) -> None:
        """Hang up: off the clock, listeners dropped, peer connection closed (idempotent)."""
        if self._state is LegState.CLOSED:
            return
        self._set_state(LegState.CLOSED)
        self._ticker.discard(self)
        self._taps_in.clear()
        self._taps_out.clear()
        self._source = self._player = None
        self._on_source_done = None
        self._inbound.clear()
        if self._tap is not None:
            self._tap.close()
        self._track.stop()
        await self._pc.close()


# What aiortc's SDP parser raises on bad input (it validates some fields with assert).
_PARSE_ERRORS = (ValueError, KeyError, IndexError, TypeError, AssertionError)


def _codec_names(codecs: Sequence[str]) -> list[str]:
    names: list[str] = []
    for name in codecs:
        match = next((s for s in SUPPORTED if s.lower() == name.lower()), None)
        if match is None:
            raise ValueError(f"unsupported codec {name!r}; supported: {', '.join(SUPPORTED)}")
        names.append(match)
    if not names:
        raise ValueError("at least one codec is needed")
    return names


def _check_offer(sdp: str) -> None:
    if not sdp.lstrip().startswith("v=0"):
        raise OfferError("not an SDP offer (it must start with v=0)")
    try:
        parsed = SessionDescription.parse(sdp)
    except _PARSE_ERRORS as exc:
        raise OfferError(f"malformed SDP offer: {exc!r}") from exc
    if not any(m.kind == "audio" for m in parsed.media):
        raise OfferError("the offer has no audio section (m=audio)")


def _prefer(transceiver: RTCRtpTransceiver, wanted: list[str]) -> None:
    capabilities = RTCRtpSender.getCapabilities("audio").codecs
    preferred = [c for name in wanted for c in capabilities if c.name.lower() == name.lower()]
    transceiver.setCodecPreferences(preferred)


def _answered_codec(sdp: str) -> str | None:
    for media in SessionDescription.parse(sdp).media:
        if media.kind == "audio" and media.rtp.codecs:
            name = media.rtp.codecs[0].name
            return next((s for s in SUPPORTED if s.lower() == name.lower()), name)
    return None


def _offered_codecs(sdp: str) -> str:
    try:
        media = SessionDescription.parse(sdp).media
    except _PARSE_ERRORS:
        return ""
    return ", ".join(c.name for m in media if m.kind == "audio" for c in m.rtp.codecs)
