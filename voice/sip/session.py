"""`InviteSession`: one call as the layer above sees it, inbound (UAS) or outbound (UAC).

    Incoming --ring/progress--> Early --answer--> Answered --ACK--> Confirmed --BYE--> Terminated
    Calling  --1xx-->           Early --2xx (we ACK)-->            Confirmed
    any state --reject / CANCEL / failure / timeout------------------------------> Terminated

The session retransmits its 2xx with T1 doubling capped at T2 until the ACK arrives (RFC 3261
§13.3.1.4) and gives up after 64*T1 with a BYE. Upper-layer hooks are plain attributes
(`on_cancelled`, `on_bye`, `on_ack`, `on_reinvite`, `on_terminated`); `wait_terminated()` gives
the same as an awaitable.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from media.clock import TimerHandle
from voice.sip.builder import make_response
from voice.sip.dialog import Dialog
from voice.sip.errors import CallFailed, DialogError, SipError, TransactionError
from voice.sip.message import SipRequest, SipResponse
from voice.sip.server_transaction import InviteServerTransaction, ServerTransaction

if TYPE_CHECKING:
    from voice.sip.transport import Address, Flow
    from voice.sip.ua import SipUserAgent

log = logging.getLogger(__name__)


class SessionState(enum.Enum):
    INCOMING = "incoming"
    CALLING = "calling"
    EARLY = "early"
    ANSWERED = "answered"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class EndCause(enum.Enum):
    """Why a session ended."""

    LOCAL_BYE = "local-bye"
    REMOTE_BYE = "remote-bye"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"
    ACK_TIMEOUT = "ack-timeout"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"


_S = SessionState
_MOVES = {
    _S.INCOMING: {_S.EARLY, _S.ANSWERED, _S.TERMINATED},
    _S.CALLING: {_S.EARLY, _S.CONFIRMED, _S.TERMINATED},
    _S.EARLY: {_S.ANSWERED, _S.CONFIRMED, _S.TERMINATED},
    _S.ANSWERED: {_S.CONFIRMED, _S.TERMINATED},
    _S.CONFIRMED: {_S.TERMINATED},
}


class InviteSession:
    """One INVITE dialog usage. Build with `SipUserAgent`, never directly."""

    def __init__(
        self, ua: SipUserAgent, request: SipRequest, flow: Flow, peer: Address,
        dialog: Dialog | None, state: SessionState,
    ) -> None:
        self._ua = ua
        self.request = request
        self.flow = flow
        self.peer = peer
        self.dialog = dialog
        self.state = state
        self.cause: EndCause | None = None
        self.remote_sdp = request.body if state is _S.INCOMING else b""
        self.local_sdp = b"" if state is _S.INCOMING else request.body
        self.ist: InviteServerTransaction | None = None
        self._ok_wire: bytes | None = None  # the 2xx we retransmit until ACK
        self._ok_seq = 0
        self._ok_timer: TimerHandle | None = None
        self._ok_until = 0.0  # when an unacknowledged 2xx gives up (64*T1 after sending)
        self._ok_interval = 0.0
        self._bye_pending = False
        self._reinvite_busy = False
        self._ended: asyncio.Future[EndCause] | None = None
        self.on_cancelled: Callable[[], None] | None = None
        self.on_bye: Callable[[], None] | None = None
        self.on_ack: Callable[[], None] | None = None
        self.on_reinvite: Callable[[bytes], bytes] | None = None
        self.on_terminated: Callable[[EndCause], None] | None = None

    def __repr__(self) -> str:
        return f"<InviteSession {self.request.call_id} {self.state.name}>"

    @property
    def call_id(self) -> str:
        return self.request.call_id

    def _set_state(self, new: SessionState) -> None:
        old = self.state
        if new is old:
            return
        if new not in _MOVES.get(old, set()):
            raise DialogError(f"session: illegal move {old.name} -> {new.name}")
        self.state = new
        log.debug("session %s: %s -> %s", self.call_id, old.name, new.name)

    def _require(self, *states: SessionState, action: str) -> None:
        if self.state not in states:
            raise DialogError(f"cannot {action} in state {self.state.name}")

    # -- UAS: answering an INVITE -------------------------------------------------------------
    def _contact(self) -> str:
        """Our Contact in this dialog: `sips:` when the INVITE that made it was (§12.1.1)."""
        return self._ua.contact_for(
            self.flow, secure=self.request.uri.lstrip().lower().startswith("sips:"))

    def _respond(self, status: int, reason: str | None = None, body: bytes = b"") -> SipResponse:
        assert self.dialog is not None and self.ist is not None
        resp = make_response(self.request, status, reason, to_tag=self.dialog.local_tag)
        h = resp.headers
        if status > 100 and status < 300:
            for rr in self.request.headers.get_all("Record-Route"):
                h.add("Record-Route", rr)
            h.add("Contact", self._contact())
        if body:
            h.add("Content-Type", "application/sdp")
            resp.body = body
        return resp

    def ring(self) -> None:
        """Send 180 Ringing."""
        self._require(_S.INCOMING, _S.EARLY, action="ring")
        assert self.ist is not None
        self.ist.respond(self._respond(180))
        self._set_state(_S.EARLY)

    def progress(self, sdp: bytes) -> None:
        """Send 183 Session Progress with early media SDP."""
        self._require(_S.INCOMING, _S.EARLY, action="send progress")
        assert self.ist is not None
        self.ist.respond(self._respond(183, body=sdp))
        self.local_sdp = sdp
        self._set_state(_S.EARLY)

    def answer(self, sdp: bytes) -> None:
        """Send 200 OK with `sdp` and Contact; retransmitted until the ACK arrives."""
        self._require(_S.INCOMING, _S.EARLY, action="answer")
        assert self.ist is not None
        resp = self._respond(200, body=sdp)
        wire = bytes(resp)  # once: the transaction sends these bytes, we retransmit them
        self.local_sdp = sdp
        self.ist.respond(resp, wire)
        self._set_state(_S.ANSWERED)
        self._retransmit_ok(wire, self.request.cseq[0])

    def reject(
        self, status: int = 486, reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Refuse the call with a final error response (3xx-6xx), e.g. a 401 challenge."""
        if not 300 <= status < 700:
            raise ValueError(f"reject needs a 3xx-6xx status, not {status}")
        self._require(_S.INCOMING, _S.EARLY, action="reject")
        assert self.ist is not None
        resp = self._respond(status, reason)
        for name, value in headers or []:
            resp.headers.add(name, value)
        self.ist.respond(resp)
        self._end(EndCause.REJECTED)

    def _retransmit_ok(self, wire: bytes, seq: int) -> None:
        # One timer handle re-armed, not a retransmit timer plus a deadline timer: the last
        # retransmit interval is cut short to end at the deadline (one handle less per call).
        self._ok_wire, self._ok_seq = wire, seq
        timers = self._ua.timers
        clock = self._ua.clock
        self._ok_until = clock.now() + timers.timeout
        if self.flow.reliable:
            self._ok_timer = clock.call_later(timers.timeout, self._ok_expired)
        else:
            self._ok_interval = timers.t1
            self._ok_timer = clock.call_later(timers.t1, self._ok_tick)

    def _ok_tick(self) -> None:
        self._ok_timer = None
        if self._ok_wire is None:
            return
        clock = self._ua.clock
        self._ua.count("retransmissions")
        self._ua.send(self.flow, self.peer, self._ok_wire)
        self._ok_interval = min(self._ok_interval * 2, self._ua.timers.t2)
        left = self._ok_until - clock.now()
        if self._ok_interval < left:
            self._ok_timer = clock.call_later(self._ok_interval, self._ok_tick)
        else:
            self._ok_timer = clock.call_later(left, self._ok_expired)

    def _stop_ok(self) -> None:
        self._ok_wire = None
        if self._ok_timer is not None:
            self._ok_timer.cancel()
            self._ok_timer = None

    def _ok_expired(self) -> None:
        # §13.3.1.4: no ACK within 64*T1 -> the session is over; tell the peer with a BYE.
        self._stop_ok()
        self._reinvite_busy = False
        if self.state in (_S.ANSWERED, _S.CONFIRMED):
            self._send_bye()
            self._end(EndCause.ACK_TIMEOUT)

    # -- requests from the peer ----------------------------------------------------------------
    def handle_ack(self, ack: SipRequest) -> None:
        """An ACK for our 2xx (a new transaction, matched by dialog)."""
        if self._ok_wire is not None and ack.cseq[0] == self._ok_seq:
            self._stop_ok()
            self._reinvite_busy = False
            if ack.body:
                self.remote_sdp = ack.body
            if self.state is _S.ANSWERED:
                self._set_state(_S.CONFIRMED)
                assert self.dialog is not None
                self.dialog.confirm()
                if self.on_ack is not None:
                    self.on_ack()
                if self._bye_pending:
                    self.bye()

    def handle_cancel(self) -> bool:
        """CANCEL matched our INVITE; True when it stopped the call (487 sent)."""
        if self.state not in (_S.INCOMING, _S.EARLY) or self.ist is None:
            return False
        self.ist.respond(self._respond(487))
        if self.on_cancelled is not None:
            self.on_cancelled()
        self._end(EndCause.CANCELLED)
        return True

    def handle_request(self, request: SipRequest, tx: ServerTransaction) -> None:
        """An in-dialog request other than ACK/CANCEL, with its server transaction."""
        assert self.dialog is not None
        if not self.dialog.accept_remote_cseq(request):
            tx.respond(make_response(request, 500, "CSeq out of order"))
            return
        method = request.method
        if method == "BYE":
            tx.respond(make_response(request, 200))
            if self.state is not _S.TERMINATED:
                if self.on_bye is not None:
                    self.on_bye()
                self._end(EndCause.REMOTE_BYE)
        elif method == "INVITE":
            self._handle_reinvite(request, tx)
        elif method in ("OPTIONS", "INFO"):
            tx.respond(make_response(request, 200))
        else:
            resp = make_response(request, 405)
            resp.headers.add("Allow", self._ua.ALLOW)
            tx.respond(resp)

    def _handle_reinvite(self, request: SipRequest, tx: ServerTransaction) -> None:
        assert self.dialog is not None
        if self.state is not _S.CONFIRMED or self._reinvite_busy:
            # §14.2: an offer while ours is outstanding -> 491; before ACK -> 491 too.
            tx.respond(make_response(request, 491))
            return
        self._reinvite_busy = True
        self.remote_sdp = request.body
        answer = self.local_sdp
        if self.on_reinvite is not None and request.body:
            try:
                answer = self.on_reinvite(request.body)
            except SipError as exc:
                self._reinvite_busy = False
                tx.respond(make_response(request, 488, str(exc)[:60] or None))
                return
        self.dialog.update_target(request)
        self.local_sdp = answer
        resp = make_response(request, 200)
        resp.headers.add("Contact", self._contact())
        if answer:
            resp.headers.add("Content-Type", "application/sdp")
            resp.body = answer
        tx.respond(resp)
        self._retransmit_ok(bytes(resp), request.cseq[0])

    async def reinvite(self, sdp: bytes) -> bytes:
        """Send a re-INVITE with `sdp` (hold/unhold); returns the peer's answer SDP.

        Raises CallFailed on an error response (the call goes on, except after 481/408,
        which end it as §14.1 says) and TransactionTimeout when nobody answers.
        """
        self._require(_S.CONFIRMED, action="re-INVITE")
        if self._reinvite_busy:
            raise DialogError("a re-INVITE is already in progress")
        assert self.dialog is not None
        self._reinvite_busy = True
        try:
            request = self.dialog.create_request(
                "INVITE", self._ua.via_for(self.flow), body=sdp,
                contact=self._contact(),
            )
            response = await self._ua.request_in_dialog(self, request)
        finally:
            self._reinvite_busy = False
        if response.status < 300:
            self.local_sdp = sdp
            self.remote_sdp = response.body
            self.dialog.update_target(response)
            return response.body
        if response.status in (408, 481):
            self._end(EndCause.FAILED)
        raise CallFailed(response.status, response.reason)

    # -- hanging up ----------------------------------------------------------------------------
    def bye(self) -> None:
        """End a confirmed call with BYE (deferred until the ACK if our 2xx is unacknowledged)."""
        if self.state is _S.ANSWERED:
            self._bye_pending = True
            return
        self._require(_S.CONFIRMED, action="send BYE")
        self._send_bye()
        self._end(EndCause.LOCAL_BYE)

    def hangup(self) -> None:
        """Whatever ends the call from here: reject (480), CANCEL or BYE."""
        if self.state in (_S.INCOMING, _S.EARLY) and self.ist is not None:
            self.reject(480)
        elif self.state in (_S.CALLING, _S.EARLY):
            self.cancel()
        elif self.state in (_S.ANSWERED, _S.CONFIRMED):
            self.bye()

    def cancel(self) -> None:
        """Cancel an outgoing call (UAC); implemented by the UAC subclass."""
        raise DialogError(f"cannot cancel in state {self.state.name}")

    def _send_bye(self) -> None:
        if self.dialog is None:
            return
        try:
            bye = self.dialog.create_request("BYE", self._ua.via_for(self.flow))
            self._ua.client_transaction(bye, self.flow, self.peer, None)
        except SipError as exc:
            log.debug("session %s: BYE not sent: %s", self.call_id, exc)

    def _end(self, cause: EndCause) -> None:
        if self.state is _S.TERMINATED:
            return
        self._stop_ok()
        self._set_state(_S.TERMINATED)
        self.cause = cause
        if self.dialog is not None:
            self.dialog.terminate()
        self._ua.session_ended(self)
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(cause)
        on_terminated = self.on_terminated
        # A terminated session calls nobody again. Its INVITE transaction keeps it (as `tu`)
        # for 64*T1 to absorb retransmissions; dropping the callbacks lets the Call, its legs
        # and RTP state be freed now instead of surviving 32 s into the GC's oldest
        # generation (at 1,500 calls/s that was ~50,000 calls' objects per full collection).
        self.on_cancelled = self.on_bye = self.on_ack = self.on_terminated = None
        self.on_reinvite = None
        if on_terminated is not None:
            on_terminated(cause)

    def shutdown(self) -> None:
        """End without signalling more than a courtesy BYE (UA shutdown)."""
        if self.state is _S.CONFIRMED:
            self._send_bye()
        elif self.state in (_S.INCOMING, _S.EARLY) and self.ist is not None:
            # Already answered by someone else in this same tick: nothing more to say.
            with contextlib.suppress(TransactionError):
                self.ist.respond(self._respond(503))
        self._end(EndCause.SHUTDOWN)

    async def wait_terminated(self) -> EndCause:
        """Wait until the session ends; returns why."""
        if self.cause is not None:
            return self.cause
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        return await self._ended
