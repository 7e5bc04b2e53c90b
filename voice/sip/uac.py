"""`OutgoingCall`: the UAC side of an INVITE (RFC 3261 §13.2), with CANCEL and digest retry.

`SipUserAgent.invite()` builds one and awaits `run()`: it resolves on a 2xx (ACKed here, and
re-ACKed for every retransmitted 2xx), raises `CallFailed` on an error response and
`TransactionTimeout` when Timer B fires. A 401/407 is retried once with credentials through
the injected authenticator. Cancelling the awaiting task sends CANCEL (§9.1) - at once when a
provisional has arrived, else as soon as one does.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from voice.sip.builder import new_branch
from voice.sip.dialog import Dialog
from voice.sip.errors import AuthError, CallFailed, DialogError, SipError, TransactionTimeout
from voice.sip.message import SipRequest, SipResponse
from voice.sip.session import EndCause, InviteSession, SessionState
from voice.sip.transaction import ClientTransaction, State

if TYPE_CHECKING:
    from voice.sip.transport import Address, Flow
    from voice.sip.ua import SipUserAgent

log = logging.getLogger(__name__)

Authenticator = Callable[[str, str, str, str, str, bytes], str]
"""(challenge header value, method, uri, username, password, body) -> Authorization value."""


class CancelState(enum.Enum):
    NONE = "none"
    PENDING = "pending"  # asked before any provisional: sent when one arrives (§9.1)
    SENT = "sent"


class OutgoingCall(InviteSession):
    """An outbound call; `on_progress` sees each provisional response."""

    def __init__(
        self, ua: SipUserAgent, request: SipRequest, flow: Flow, peer: Address,
        credentials: tuple[str, str] | None, authenticator: Authenticator | None,
    ) -> None:
        super().__init__(ua, request, flow, peer, None, SessionState.CALLING)
        self._credentials = credentials
        self._authenticator = authenticator
        self._final: asyncio.Future[SipResponse] | None = None
        self._ict: ClientTransaction | None = None
        self._ack_wire: bytes | None = None
        self._cancel = CancelState.NONE
        self.on_progress: Callable[[SipResponse], None] | None = None

    async def run(self) -> None:
        """Drive the INVITE to a final answer (see the module docstring)."""
        authenticated = False
        while True:
            response = await self._attempt()
            status = response.status
            if status < 300:
                return
            if (
                status in (401, 407) and self._credentials is not None and not authenticated
                and self._cancel is CancelState.NONE
            ):
                authenticated = True
                self.request = self._with_authorization(response)
                continue
            cause = EndCause.CANCELLED if status == 487 else EndCause.REJECTED
            self._end(cause)
            raise CallFailed(status, response.reason)

    async def _attempt(self) -> SipResponse:
        self._final = asyncio.get_running_loop().create_future()
        self._ict = self._ua.client_transaction(
            self.request, self.flow, self.peer, self._on_response, self._on_timeout
        )
        return await self._final

    def _resolve(self, response: SipResponse) -> None:
        if self._final is not None and not self._final.done():
            self._final.set_result(response)

    def _on_response(self, response: SipResponse) -> None:
        status = response.status
        if status < 200:
            if self.state is SessionState.CALLING and response.to_tag:
                self._set_state(SessionState.EARLY)
            if response.body:
                self.remote_sdp = response.body
            if self._cancel is CancelState.PENDING:
                self._send_cancel()
            if self.on_progress is not None:
                self.on_progress(response)
        elif status < 300:
            self._on_2xx(response)
        elif self._final is None or self._final.done():
            # Nobody awaits run() any more (its task was cancelled): finish the call here.
            self._end(EndCause.CANCELLED if status == 487 else EndCause.REJECTED)
        else:
            self._resolve(response)

    def _on_2xx(self, response: SipResponse) -> None:
        if self._ack_wire is not None:
            # A retransmitted 2xx: our ACK was lost; send it again (§13.2.2.4).
            self._ua.count("retransmissions")
            self._ua.send(self.flow, self.peer, self._ack_wire)
            return
        if self.state is SessionState.TERMINATED:
            return
        try:
            dialog = Dialog.from_uac(self.request, response)
        except DialogError as exc:
            log.debug("call %s: unusable 2xx: %s", self.call_id, exc)
            dialog = None
        if dialog is None:
            self._resolve(response)
            self._end(EndCause.FAILED)
            return
        self.dialog = dialog
        ack = dialog.create_request(
            "ACK", self._ua.via_for(self.flow), cseq=self.request.cseq[0]
        )
        self._ack_wire = bytes(ack)
        self._ua.send(self.flow, self.peer, self._ack_wire)
        self.remote_sdp = response.body or self.remote_sdp
        dialog.confirm()
        self._set_state(SessionState.CONFIRMED)
        self._ua.add_dialog(self)
        if self._cancel is not CancelState.NONE:
            # The 2xx crossed our CANCEL: the call exists, so end it properly (§9.1).
            self.bye()
        self._resolve(response)

    def _on_timeout(self) -> None:
        if self._final is not None and not self._final.done():
            self._final.set_exception(TransactionTimeout("no final response to INVITE"))
        self._end(EndCause.TIMEOUT)

    def cancel(self) -> None:
        """CANCEL the call if it has not been answered (no-op once it has ended)."""
        if self.state is SessionState.TERMINATED or self._cancel is not CancelState.NONE:
            return
        if self.state is SessionState.CONFIRMED:
            self.bye()
            return
        if self._ict is not None and self._ict.state is State.PROCEEDING:
            self._send_cancel()
        else:
            self._cancel = CancelState.PENDING

    def _send_cancel(self) -> None:
        self._cancel = CancelState.SENT
        invite = self.request
        cancel = SipRequest(method="CANCEL", uri=invite.uri)
        h = cancel.headers
        h.add("Via", invite.top_via)  # same branch: CANCEL matches the INVITE (§9.1)
        for route in invite.headers.get_all("Route"):
            h.add("Route", route)
        for name in ("Max-Forwards", "From", "To", "Call-ID"):
            h.add(name, invite.headers.get(name) or "")
        h.add("CSeq", f"{invite.cseq[0]} CANCEL")
        try:
            self._ua.client_transaction(cancel, self.flow, self.peer, None)
        except SipError as exc:
            log.debug("call %s: CANCEL not sent: %s", self.call_id, exc)
        # §9.1: no final response 64*T1 after CANCEL -> the INVITE is given up.
        self._ua.clock.call_later(self._ua.timers.timeout, self._cancel_expired)

    def _cancel_expired(self) -> None:
        if self.state in (SessionState.CALLING, SessionState.EARLY):
            if self._ict is not None:
                self._ict.terminate()
            self._end(EndCause.CANCELLED)

    def _with_authorization(self, challenge: SipResponse) -> SipRequest:
        assert self._credentials is not None
        is_proxy = challenge.status == 407
        header = challenge.headers.get("Proxy-Authenticate" if is_proxy else "WWW-Authenticate")
        if not header:
            raise AuthError(f"{challenge.status} without a challenge")
        authenticate = self._authenticator or self._ua.authenticator()
        username, password = self._credentials
        value = authenticate(header, "INVITE", self.request.uri, username, password,
                             self.request.body)
        old = self.request
        request = SipRequest(method="INVITE", uri=old.uri, body=old.body)
        h = request.headers
        for name, val in old.headers:
            if name == "Via":
                val = self._ua.via_for(self.flow)
            elif name == "CSeq":
                val = f"{old.cseq[0] + 1} INVITE"
            elif name in ("Authorization", "Proxy-Authorization"):
                continue
            h.add(name, val)
        h.add("Proxy-Authorization" if is_proxy else "Authorization", value)
        return request


def fresh_via(transport: str, host: str, port: int) -> str:
    """Our own Via value for a new client transaction (rport asks for symmetric replies)."""
    return f"SIP/2.0/{transport} {host}:{port};branch={new_branch()};rport"
