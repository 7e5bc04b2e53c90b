"""The four RFC 3261 §17 transaction state machines, on the injected clock.

    INVITE client (§17.1.1, with RFC 6026's Accepted)   Calling -> Proceeding -> Completed
                                                        Calling/Proceeding -> Accepted -> Terminated
    non-INVITE client (§17.1.2)                         Trying -> Proceeding -> Completed
    INVITE server (§17.2.1, with RFC 6026's Accepted)   Proceeding -> Completed -> Confirmed
                                                        Proceeding -> Accepted -> Terminated
    non-INVITE server (§17.2.2)                         Trying -> Proceeding -> Completed

Each transaction owns the bytes it retransmits and a `send` callable bound to its destination,
so a retransmission costs one socket write. Timers A, B, D, E, F, G, H, I, J, K (and RFC 6026's
L and M) run on the `Clock`; on reliable transports the retransmission timers are not started
and the wait timers are zero, as the RFC says. The TU learns about responses, timeouts and
termination through plain callbacks.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from media.clock import Clock, TimerHandle
from voice.sip.errors import TransactionError, TransportError
from voice.sip.message import SipRequest, SipResponse

log = logging.getLogger(__name__)

Send = Callable[[bytes], None]


@dataclass(frozen=True)
class Timers:
    """RFC 3261 timer base values (seconds); every other timer derives from these."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def timeout(self) -> float:
        """64*T1: Timers B, F, H, J (unreliable), L and M."""
        return 64 * self.t1


class State(enum.Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


_S = State
_ICT_MOVES = {
    _S.CALLING: {_S.PROCEEDING, _S.COMPLETED, _S.ACCEPTED, _S.TERMINATED},
    _S.PROCEEDING: {_S.COMPLETED, _S.ACCEPTED, _S.TERMINATED},
    _S.COMPLETED: {_S.TERMINATED},
    _S.ACCEPTED: {_S.TERMINATED},
}
_NICT_MOVES = {
    _S.TRYING: {_S.PROCEEDING, _S.COMPLETED, _S.TERMINATED},
    _S.PROCEEDING: {_S.COMPLETED, _S.TERMINATED},
    _S.COMPLETED: {_S.TERMINATED},
}
_IST_MOVES = {
    _S.PROCEEDING: {_S.COMPLETED, _S.ACCEPTED, _S.TERMINATED},
    _S.COMPLETED: {_S.CONFIRMED, _S.TERMINATED},
    _S.CONFIRMED: {_S.TERMINATED},
    _S.ACCEPTED: {_S.TERMINATED},
}
_NIST_MOVES = {
    _S.TRYING: {_S.PROCEEDING, _S.COMPLETED, _S.TERMINATED},
    _S.PROCEEDING: {_S.COMPLETED, _S.TERMINATED},
    _S.COMPLETED: {_S.TERMINATED},
}


class Transaction:
    """State, timers and the termination hook shared by the four machines."""

    _moves: dict[State, set[State]] = {}
    _initial = State.TERMINATED
    kind = "transaction"

    def __init__(
        self, key: tuple[str, ...], request: SipRequest, send: Send, clock: Clock,
        timers: Timers, reliable: bool,
    ) -> None:
        self.key = key
        self.request = request
        self.state = self._initial
        self._send = send
        self._clock = clock
        self._timers = timers
        self.reliable = reliable
        self._handles: dict[str, TimerHandle] = {}
        self.on_terminated: Callable[[Transaction], None] | None = None
        self.retransmissions = 0

    def _set_state(self, new: State) -> None:
        old = self.state
        if new not in self._moves.get(old, set()):
            raise TransactionError(f"{self.kind}: illegal move {old.name} -> {new.name}")
        self.state = new
        log.debug("%s %s: %s -> %s", self.kind, self.key[0], old.name, new.name)
        if new is State.TERMINATED:
            for handle in self._handles.values():
                handle.cancel()
            self._handles.clear()
            if self.on_terminated is not None:
                self.on_terminated(self)

    def _start(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        old = self._handles.pop(name, None)
        if old is not None:
            old.cancel()
        self._handles[name] = self._clock.call_later(delay, callback)

    def _stop(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _transmit(self, data: bytes) -> bool:
        try:
            self._send(data)
        except TransportError as exc:
            # RFC 3261 §17.1.4/§17.2.4: a transport error ends the transaction.
            log.debug("%s %s: transport error %s", self.kind, self.key[0], exc)
            self._transport_failed()
            return False
        return True

    def _transport_failed(self) -> None:
        if self.state is not State.TERMINATED:
            self._set_state(State.TERMINATED)

    def terminate(self) -> None:
        """Stop the transaction now (shutdown, or the TU gave up)."""
        if self.state is not State.TERMINATED:
            self._set_state(State.TERMINATED)


# --- client transactions ---------------------------------------------------------------------


class ClientTransaction(Transaction):
    """Base of the client machines: `on_response` and `on_timeout` go to the TU."""

    def __init__(
        self, key: tuple[str, ...], request: SipRequest, send: Send, clock: Clock,
        timers: Timers, reliable: bool,
        on_response: Callable[[SipResponse], None],
        on_timeout: Callable[[], None],
    ) -> None:
        super().__init__(key, request, send, clock, timers, reliable)
        self.on_response = on_response
        self.on_timeout = on_timeout
        self._wire = bytes(request)
        self._interval = timers.t1

    def start(self) -> None:
        """Send the request and arm the machine's first timers."""
        raise NotImplementedError

    def receive(self, response: SipResponse) -> None:
        raise NotImplementedError

    def _timed_out(self) -> None:
        if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
            self._set_state(State.TERMINATED)
            self.on_timeout()

    def _transport_failed(self) -> None:
        was_pending = self.state in (State.CALLING, State.TRYING, State.PROCEEDING)
        super()._transport_failed()
        if was_pending:
            self.on_timeout()


class InviteClientTransaction(ClientTransaction):
    """INVITE client (§17.1.1). Builds the ACK for a non-2xx final itself (§17.1.1.3)."""

    _moves = _ICT_MOVES
    _initial = State.CALLING
    kind = "ict"
    _ack: bytes | None = None

    def start(self) -> None:
        if not self._transmit(self._wire):
            return
        if not self.reliable:
            self._start("A", self._interval, self._timer_a)
        self._start("B", self._timers.timeout, self._timed_out)

    def _timer_a(self) -> None:
        if self.state is State.CALLING:
            self.retransmissions += 1
            self._interval *= 2  # Timer A doubles without the T2 cap (§17.1.1.2)
            if self._transmit(self._wire):
                self._start("A", self._interval, self._timer_a)

    def receive(self, response: SipResponse) -> None:
        status = response.status
        state = self.state
        if state in (State.CALLING, State.PROCEEDING):
            if status < 200:
                # Timer B only guards Calling; a ringing call waits for the TU (§17.1.1.2).
                self._stop("A")
                self._stop("B")
                if state is State.CALLING:
                    self._set_state(State.PROCEEDING)
                self.on_response(response)
            elif status < 300:
                self._stop("A")
                self._stop("B")
                self._set_state(State.ACCEPTED)
                self._start("M", self._timers.timeout, self._end)
                self.on_response(response)
            else:
                self._stop("A")
                self._stop("B")
                self._ack = bytes(self._build_ack(response))
                self._set_state(State.COMPLETED)
                self._transmit(self._ack)
                self._start("D", 0.0 if self.reliable else 32.0, self._end)
                self.on_response(response)
        elif state is State.ACCEPTED and 200 <= status < 300:
            self.on_response(response)  # retransmitted 2xx: the TU re-sends its ACK
        elif state is State.COMPLETED and status >= 300 and self._ack is not None:
            self.retransmissions += 1
            self._transmit(self._ack)

    def _end(self) -> None:
        if self.state is not State.TERMINATED:
            self._set_state(State.TERMINATED)

    def _build_ack(self, response: SipResponse) -> SipRequest:
        req = self.request
        ack = SipRequest(method="ACK", uri=req.uri)
        h = ack.headers
        h.add("Via", req.top_via)
        for name in ("Route", "From", "Call-ID", "Max-Forwards"):
            for value in req.headers.get_all(name) if name == "Route" else [req.headers.get(name)]:
                if value is not None:
                    h.add(name, value)
        h.add("To", response.headers.get("To") or "")
        h.add("CSeq", f"{req.cseq[0]} ACK")
        return ack


class NonInviteClientTransaction(ClientTransaction):
    """Non-INVITE client (§17.1.2)."""

    _moves = _NICT_MOVES
    _initial = State.TRYING
    kind = "nict"

    def start(self) -> None:
        if not self._transmit(self._wire):
            return
        if not self.reliable:
            self._start("E", self._interval, self._timer_e)
        self._start("F", self._timers.timeout, self._timed_out)

    def _timer_e(self) -> None:
        if self.state in (State.TRYING, State.PROCEEDING):
            self.retransmissions += 1
            # Trying doubles up to T2; Proceeding retransmits every T2 (§17.1.2.2).
            if self.state is State.TRYING:
                self._interval = min(self._interval * 2, self._timers.t2)
            else:
                self._interval = self._timers.t2
            if self._transmit(self._wire):
                self._start("E", self._interval, self._timer_e)

    def receive(self, response: SipResponse) -> None:
        if self.state is State.TRYING and response.status < 200:
            self._set_state(State.PROCEEDING)
            self.on_response(response)
        elif self.state is State.PROCEEDING and response.status < 200:
            self.on_response(response)
        elif self.state in (State.TRYING, State.PROCEEDING):
            self._stop("E")
            self._stop("F")
            self._set_state(State.COMPLETED)
            self._start("K", 0.0 if self.reliable else self._timers.t4, self._end)
            self.on_response(response)
        # Completed: retransmitted finals are absorbed.

    def _end(self) -> None:
        if self.state is not State.TERMINATED:
            self._set_state(State.TERMINATED)
