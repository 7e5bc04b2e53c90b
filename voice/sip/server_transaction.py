"""Server transactions (RFC 3261 §17.2) and request matching (§17.2.3).

A retransmitted request is absorbed here: the machine re-sends its latest response (for a
repeated INVITE, the latest provisional) and the TU never sees it. The ACK to a non-2xx final
ends in the INVITE server transaction; the ACK to a 2xx is a new transaction and belongs to the
dialog (the IST has moved to RFC 6026's Accepted and lets it through).
"""

from __future__ import annotations

from collections.abc import Callable

from voice.sip.builder import MAGIC_COOKIE
from voice.sip.errors import TransactionError
from voice.sip.headers import Via
from voice.sip.message import SipRequest, SipResponse
from voice.sip.transaction import _IST_MOVES, _NIST_MOVES, State, Transaction


def server_key(request: SipRequest, via: Via, method: str | None = None) -> tuple[str, ...]:
    """The §17.2.3 matching key; `method` overrides (CANCEL looks up its INVITE).

    ACK matches the INVITE transaction. Pre-RFC 3261 branches fall back to the §17.2.3
    legacy fields (Call-ID, From tag, CSeq number, top Via).
    """
    m = method or request.method
    if m == "ACK":
        m = "INVITE"
    branch = via.branch or ""
    if branch.startswith(MAGIC_COOKIE):
        return (branch, f"{via.host}:{via.port or ''}", m)
    return (
        request.call_id, request.from_tag or "", str(request.cseq[0]), request.top_via, m,
    )


class ServerTransaction(Transaction):
    """Base of the server machines: `respond()` from the TU, `receive()` from the wire."""

    _last: bytes | None = None
    _interval = 0.0
    last_status = 0
    tu: object | None = None  # the TU object the transaction serves (the session, for INVITE)
    answered_tag: str | None = None  # an IST in Accepted: the To tag of its 2xx
    on_timeout: Callable[[], None] | None = None

    def receive(self, request: SipRequest) -> bool:
        """A retransmission or ACK for this transaction; True when it was absorbed."""
        raise NotImplementedError

    def respond(self, response: SipResponse, wire: bytes | None = None) -> None:
        """Send `response` (`wire`: its bytes, when the caller already serialised it)."""
        raise NotImplementedError

    def _resend(self) -> None:
        if self._last is not None:
            self.retransmissions += 1
            self._transmit(self._last)


class InviteServerTransaction(ServerTransaction):
    """INVITE server (§17.2.1 with RFC 6026's Accepted state)."""

    _moves = _IST_MOVES
    _initial = State.PROCEEDING
    kind = "ist"

    def receive(self, request: SipRequest) -> bool:
        state = self.state
        if request.method == "ACK":
            if state is State.COMPLETED:
                self._stop("G")
                self._stop("H")
                self._set_state(State.CONFIRMED)
                self._start("I", 0.0 if self.reliable else self._timers.t4, self._end)
                return True
            # Confirmed absorbs ACK retransmissions; an ACK in Accepted is for the dialog.
            return state is State.CONFIRMED
        if state in (State.PROCEEDING, State.COMPLETED):
            self._resend()
        return True

    def respond(self, response: SipResponse, wire: bytes | None = None) -> None:
        if self.state is not State.PROCEEDING:
            raise TransactionError(f"ist: cannot respond in state {self.state.name}")
        if wire is None:
            wire = bytes(response)
        self._last = wire
        self.last_status = response.status
        status = response.status
        if status < 200:
            self._transmit(wire)
        elif status < 300:
            self._set_state(State.ACCEPTED)
            # The TU (session) retransmits the 2xx; we only absorb INVITE copies (Timer L).
            self._start("L", self._timers.timeout, self._end)
            self._transmit(wire)
            # For the 64*T1 of Accepted nothing here needs the session or the 2xx bytes: a
            # late CANCEL only needs the To tag. Holding the session kept each call's objects
            # alive 32 s, into the GC's oldest generation.
            self.answered_tag = response.to_tag
            self.tu = None
            self.on_timeout = None
            self._last = None
        else:
            self._set_state(State.COMPLETED)
            if not self.reliable:
                self._interval = self._timers.t1
                self._start("G", self._interval, self._timer_g)
            self._start("H", self._timers.timeout, self._timer_h)
            self._transmit(wire)

    def _timer_g(self) -> None:
        if self.state is State.COMPLETED:
            self._interval = min(self._interval * 2, self._timers.t2)
            self._resend()
            if self.state is State.COMPLETED:
                self._start("G", self._interval, self._timer_g)

    def _timer_h(self) -> None:
        if self.state is State.COMPLETED:
            self._set_state(State.TERMINATED)
            if self.on_timeout is not None:
                self.on_timeout()

    def _end(self) -> None:
        if self.state is not State.TERMINATED:
            self._set_state(State.TERMINATED)


class NonInviteServerTransaction(ServerTransaction):
    """Non-INVITE server (§17.2.2)."""

    _moves = _NIST_MOVES
    _initial = State.TRYING
    kind = "nist"

    def receive(self, request: SipRequest) -> bool:
        if self.state in (State.PROCEEDING, State.COMPLETED):
            self._resend()
        return True  # Trying: absorbed without a response to repeat

    def respond(self, response: SipResponse, wire: bytes | None = None) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            raise TransactionError(f"nist: cannot respond in state {self.state.name}")
        if wire is None:
            wire = bytes(response)
        self._last = wire
        self.last_status = response.status
        if response.status < 200:
            if self.state is State.TRYING:
                self._set_state(State.PROCEEDING)
        else:
            self._set_state(State.COMPLETED)
            self._start("J", 0.0 if self.reliable else self._timers.timeout, self._end)
        self._transmit(wire)

    def _end(self) -> None:
        if self.state is not State.TERMINATED:
            self._set_state(State.TERMINATED)
