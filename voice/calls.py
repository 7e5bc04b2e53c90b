"""`CallManager`: turns INVITE sessions into Calls with media, and places outbound calls.

For each inbound INVITE it negotiates SDP, opens an RTP session, puts the leg on the media
ticker, builds the `Call`, and runs the call handler (the IVR; the demo until the IVR lands)
as a task the UA owns. When the call ends, media is torn down and a `CallRecord` remains for
the debug API. Outbound calls (`dial`) go the other way: RTP first, offer, INVITE, answer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import wave
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from media.clock import Clock
from media.dtmf_inband import InbandDtmfBank
from media.frames import AudioFrame
from media.rtp.pool import RtpSocketPool
from media.rtp.ports import PortAllocator
from media.rtp.session import RtpSession
from media.rtp.stats import RtpStats
from media.ticker import MediaTicker
from voice.call import Call, CallState, Direction, Privacy, PrivacyChange
from voice.sdp import SdpError, SessionDescription, accept_answer, answer_offer, build_offer
from voice.sip.errors import SipParseError
from voice.sip.headers import NameAddress
from voice.sip.session import EndCause, InviteSession, SessionState
from voice.sip.ua import SipUserAgent
from voice.sip_call_leg import SipCallLeg
from voice.sip_leg import InbandDtmfMode, SipLeg
from voice.trunk import TrunkConfig

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]


class SourceTrust(Protocol):
    """Why an INVITE's source is trusted, or None (`voice.trust.TrustedSources`)."""

    def trust_of(self, address: str, caller: str) -> str | None: ...

# The debug capture keeps at most this much of a caller's decoded audio (8 kHz int16):
# enough for any test clip, bounded so a forgotten call cannot eat memory.
DEBUG_CAPTURE_SECONDS = 120
RECENT_CALLS = 500


@dataclass
class CallRecord:
    """What the debug API shows of a call (only with --debug-api: it holds digits)."""

    call_id: str
    direction: str
    state: str = "new"
    end_cause: str | None = None
    digits: str = ""
    digit_sources: list[str] = field(default_factory=list)
    decoded_audio_wav: str | None = None
    # The stats object itself (frozen at hang-up): made a dict only when the debug API is read
    # (asdict below), not at every hang-up, where asdict's deep copy cost ~10 us a call.
    rtp_stats: RtpStats | None = None
    codec: str = ""
    # Why an inbound call was trusted (voice.trust), None if it was not.
    trusted_by: str | None = None


class _Capture:
    """Keeps a call's decoded inbound audio for the debug API, bounded. While the call's
    privacy is paused it keeps silence instead (the file's timeline stays aligned)."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray[Any, np.dtype[np.int16]]] = []
        self._limit = DEBUG_CAPTURE_SECONDS * 50
        self.private = False

    def __call__(self, frame: AudioFrame) -> None:
        if len(self.chunks) < self._limit:
            samples = frame.samples
            self.chunks.append(np.zeros_like(samples) if self.private else samples)

    def privacy(self, change: PrivacyChange) -> None:
        self.private = change.new is Privacy.PAUSED

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(pcm.astype("<i2").tobytes())


class CallManager:
    """Owns every live call's media; the UA owns the handler tasks."""

    def __init__(
        self,
        ua: SipUserAgent,
        clock: Clock,
        ticker: MediaTicker,
        ports: PortAllocator,
        media_host: str,
        handler: CallHandler,
        debug_dir: Path | None = None,
        inband_dtmf: InbandDtmfMode = "on",
        trust: SourceTrust | None = None,
        trunk: TrunkConfig | None = None,
    ) -> None:
        """`trust`: which inbound calls are trusted (voice.trust); None trusts none.
        `trunk`: calls dialed to it log in with its credentials and present its caller id."""
        self.ua = ua
        self.trust = trust
        self.trunk = trunk
        self.inband_dtmf: InbandDtmfMode = inband_dtmf
        self.inband_bank = InbandDtmfBank()
        ticker.after_tick(self.inband_bank.flush)
        self.clock = clock
        self.ticker = ticker
        self.ports = ports
        # Bound port pairs reused across calls: opening and closing two sockets per call was
        # ~10-14% of the CPU at 1,500 calls/s.
        self.rtp_pool = RtpSocketPool(ports, clock, bind_host=media_host)
        self.media_host = media_host
        self.handler = handler
        self.debug_dir = debug_dir
        self.calls: dict[str, Call] = {}
        self.records: deque[CallRecord] = deque(maxlen=RECENT_CALLS)
        self._live_records: dict[str, CallRecord] = {}
        self._outbound_tasks: set[asyncio.Task[None]] = set()
        # Told of every SIP call's end, inbound and outbound, with its RTP figures
        # (centralita.metrics); must not raise or block.
        self.on_ended: Callable[[Call, RtpStats], None] | None = None
        ua.on_invite = self.on_invite

    def on_invite(self, session: InviteSession) -> Awaitable[None] | None:
        return self._inbound(session)

    async def _open_rtp(self) -> RtpSession:
        rtp = RtpSession(
            self.clock, self.ports, bind_host=self.media_host, pool=self.rtp_pool
        )
        await rtp.open()
        return rtp

    async def _inbound(self, session: InviteSession) -> None:
        call_id = session.call_id
        if not session.remote_sdp:
            # Late offer (INVITE without SDP) is legal but not supported yet: say so clearly.
            session.reject(488, "SDP offer required")
            return
        try:
            offer = SessionDescription.parse(session.remote_sdp)
        except SdpError as exc:
            session.reject(488, f"bad SDP: {exc}"[:80])
            return
        try:
            rtp = await self._open_rtp()
        except (OSError, RuntimeError) as exc:
            log.error("call %s: no RTP port: %s", call_id, exc)
            session.reject(503, "no media ports")
            return
        try:
            assert rtp.local_port is not None
            local, params = answer_offer(
                offer, self.media_host, rtp.local_port, session_id=secrets.randbits(31)
            )
        except SdpError as exc:
            rtp.close()
            session.reject(488, str(exc)[:80])
            return
        media = SipLeg(rtp, params, self.inband_dtmf, self.inband_bank)
        caller, dialed = _parties(session)
        # The source address (where the packet came from: never the INVITE's own say-so)
        # decides whether this call may make the server dial out (voice.dialplan).
        trusted_by = self.trust.trust_of(session.peer[0], caller) if self.trust else None
        call = Call(
            call_id, Direction.INBOUND, SipCallLeg(session, media, local, self.media_host),
            caller=caller, dialed=dialed, trusted_by=trusted_by,
        )
        await self._run(call, session, media)

    async def dial(
        self, target: str, *, from_uri: str, handler: CallHandler,
        credentials: tuple[str, str] | None = None,
    ) -> Call:
        """Place an outbound call; returns once answered, the handler runs as a task we own.

        Raises `voice.sip.errors.CallFailed` / `TransactionTimeout` when it isn't answered.
        """
        if self.trunk is not None and self.trunk.is_trunk(target):
            credentials = credentials or self.trunk.credentials_for(target)
            from_uri = self.trunk.presented_from(from_uri)
        rtp = await self._open_rtp()
        assert rtp.local_port is not None
        offer = build_offer(self.media_host, rtp.local_port, session_id=secrets.randbits(31))
        session: InviteSession | None = None
        try:
            session = await self.ua.invite(
                target, bytes(offer), from_uri=from_uri, credentials=credentials
            )
            params = accept_answer(offer, SessionDescription.parse(session.remote_sdp))
        except BaseException:
            # Failure, timeout or cancellation (a transfer's ring timeout): the ports go back
            # either way, or each unanswered dial would leak a pair; an answer we can't use
            # is hung up rather than left open at the far end.
            rtp.close()
            if session is not None:
                session.hangup()
            raise
        media = SipLeg(rtp, params, self.inband_dtmf, self.inband_bank)
        ours, theirs = _parties(session)
        call = Call(
            session.call_id, Direction.OUTBOUND,
            SipCallLeg(session, media, offer, self.media_host),
            # Outbound, the customer is the one we dialed: the case is theirs.
            caller=ours, dialed=theirs,
        )
        call.connected()
        task = asyncio.get_running_loop().create_task(self._run(call, session, media, handler))
        self._outbound_tasks.add(task)
        task.add_done_callback(self._outbound_tasks.discard)
        return call

    async def _run(
        self, call: Call, session: InviteSession, media: SipLeg,
        handler: CallHandler | None = None,
    ) -> None:
        record = CallRecord(call.id, call.direction.value, codec=media.codec.name,
                            trusted_by=call.trusted_by)
        self._live_records[call.id] = record
        self.records.append(record)
        capture: _Capture | None = None
        if self.debug_dir is not None:
            capture = _Capture()
            media.add_listener(capture)
            call.on_privacy(capture.privacy)
        media.on_digit(call.digit)
        leg = call.leg
        assert isinstance(leg, SipCallLeg)
        leg.on_remote_hold = call.remote_hold
        session.on_terminated = lambda cause: call.ended(_cause_name(cause))
        self.calls[call.id] = call
        if session.state is SessionState.CONFIRMED:
            self.ticker.add(media)
        else:
            # Media starts with the ACK, not the 200: nothing is sent to a caller who may never
            # confirm, a prompt does not start early, and a call torn down before its ACK costs
            # no ticks. The check keeps a late ACK from reviving a leg already closed.
            def start_media() -> None:
                if self.calls.get(call.id) is call:
                    self.ticker.add(media)

            session.on_ack = start_media
        try:
            await (handler or self.handler)(call)
        except asyncio.CancelledError:
            call.hangup("shutdown")
            raise
        except Exception:
            log.exception("call %s: handler failed; hanging up", call.id)
            call.hangup("handler-error")
        finally:
            if call.state is not CallState.ENDED:
                call.hangup("handler-done")
            self.ticker.discard(media)
            record.state = call.state.value
            record.end_cause = call.end_cause
            record.digits = call.shown_digits()
            record.digit_sources = list(call.digit_sources)
            record.rtp_stats = media.stats()
            if self.on_ended is not None:
                self.on_ended(call, record.rtp_stats)
            media.close()
            # Break the call <-> leg cycle so the call's objects are freed by refcount now,
            # not by a GC pass (at 1,500 calls/s the collector was ~30% of the CPU).
            leg.on_remote_hold = None
            self.calls.pop(call.id, None)
            self._live_records.pop(call.id, None)
            if capture is not None and self.debug_dir is not None:
                path = self.debug_dir / f"{_safe(call.id)}.wav"
                capture.write(path)
                record.decoded_audio_wav = str(path)

    def debug_view(self) -> list[dict[str, Any]]:
        out = []
        for record in self.records:
            live = self.calls.get(record.call_id)
            if live is not None:
                # "ended" is kept for a finished record (audio written, RTP stats in): a call
                # that has hung up while its handler still finishes (last transcript finals)
                # shows "ending".
                state = live.state.value
                record.state = "ending" if state == "ended" else state
                record.digits = live.shown_digits()
                record.digit_sources = list(live.digit_sources)
            view = asdict(record)
            if view["rtp_stats"] is None:
                view["rtp_stats"] = {}  # as before: a live call shows no stats yet
            out.append(view)
        return out

    async def close(self) -> None:
        tasks = list(self._outbound_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.rtp_pool.close()


def _parties(session: InviteSession) -> tuple[str, str]:
    """(From user, To user) of the INVITE: who called and what was dialed."""
    out = []
    for name in ("From", "To"):
        try:
            uri = NameAddress.parse(session.request.headers.get(name) or "").sip_uri
        except SipParseError:
            out.append("")
            continue
        out.append(uri.user or "")
    return out[0], out[1]


def _cause_name(cause: EndCause) -> str:
    return cause.value


def _safe(call_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id)[:100]
