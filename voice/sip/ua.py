"""`SipUserAgent`: the SIP endpoint the rest of Centralita talks to (UAS and UAC).

    ua = SipUserAgent(LoopClock(), UaConfig(udp_port=5060), on_invite=handle_call)
    await ua.start()
    ...
    call = await ua.invite("sip:bob@127.0.0.1:5070", sdp, from_uri="sip:ivr@example.org")
    ...
    await ua.close()

Every received message enters through `handle_message()`: parsed, Via stamped (RFC 3581),
matched to a server transaction (retransmissions are absorbed there), then routed to a
dialog's session or handled out of dialog (INVITE, OPTIONS, REGISTER, CANCEL). Nothing a peer
sends can raise out of it: malformed requests get a 400 with the parser's reason when they can
be addressed, everything else unparseable is dropped and counted in `metrics`.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from media.clock import Clock
from voice.sip.abuse import SourceGuard
from voice.sip.builder import make_response, new_call_id, new_tag, salvage_response
from voice.sip.dialog import Dialog, DialogId
from voice.sip.errors import SipError, SipParseError, TransactionTimeout, TransportError
from voice.sip.headers import NameAddress, SipUri, Via
from voice.sip.message import SipRequest, SipResponse, parse_message
from voice.sip.server_transaction import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    server_key,
)
from voice.sip.session import EndCause, InviteSession, SessionState
from voice.sip.timer_queue import FixedDelayClock
from voice.sip.transaction import (
    ClientTransaction,
    InviteClientTransaction,
    NonInviteClientTransaction,
    Timers,
    Transaction,
)
from voice.sip.transport import Address, Flow, TransportLayer
from voice.sip.uac import Authenticator, OutgoingCall, fresh_via

log = logging.getLogger(__name__)

InviteHandler = Callable[[InviteSession], Awaitable[None] | None]
RegisterHandler = Callable[[SipRequest, Address], SipResponse]

_KNOWN_METHODS = frozenset(
    {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK",
     "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"}
)
_COUNTERS = ("messages_in", "messages_out", "malformed", "malformed_dropped", "retransmissions",
             "absorbed", "stray_responses", "send_errors", "internal_errors", "calls_total")


@dataclass
class UaConfig:
    """Where to listen and how to present ourselves. A port of None disables a transport;
    0 picks a free one. TLS listens only with a `tls_server_context`."""

    hosts: tuple[str, ...] = ("127.0.0.1", "::1")
    udp_port: int | None = 5060
    tcp_port: int | None = 5060
    tls_port: int | None = 5061
    tls_server_context: ssl.SSLContext | None = None
    tls_client_context: ssl.SSLContext | None = None
    public_host: str | None = None
    user_agent: str = "Centralita"
    timers: Timers = field(default_factory=Timers)
    idle_timeout: float = 120.0


def _host_for_uri(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class SipUserAgent:
    """UAS and UAC on UDP, TCP and TLS (see the module docstring)."""

    ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

    def __init__(
        self, clock: Clock, config: UaConfig | None = None, *,
        on_invite: InviteHandler | None = None,
        on_register: RegisterHandler | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or UaConfig()
        self.timers = self.config.timers
        # Transactions get their 64*T1 timers (L, J, B, F, H, M) from one FIFO instead of one
        # asyncio heap entry each: ~100,000 of them are pending at 1,500 calls/s.
        self._tx_clock = FixedDelayClock(clock, self.timers.timeout)
        self.on_invite = on_invite
        self.on_register = on_register
        # Sees every message sent, retransmissions included (centralita.metrics counts the
        # responses by status code); must not raise or block.
        self.on_sent: Callable[[bytes], None] | None = None
        # Scanner handling (voice.sip.abuse): banned sources are dropped before parsing,
        # out-of-dialog requests are admitted or dropped without an answer. None: all pass.
        self.guard: SourceGuard | None = None
        self._authenticator = authenticator
        self._counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.transports = TransportLayer(
            self.handle_message, clock, idle_timeout=self.config.idle_timeout,
            tls_client_context=self.config.tls_client_context, counters=self._counters,
        )
        self._server_tx: dict[tuple[str, ...], ServerTransaction] = {}
        self._client_tx: dict[tuple[str, str], ClientTransaction] = {}
        self._dialogs: dict[DialogId, InviteSession] = {}
        self._sessions: set[InviteSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind every configured listener (raises OSError if a port is taken)."""
        cfg = self.config
        for host in cfg.hosts:
            if cfg.udp_port is not None:
                await self.transports.listen_udp(host, cfg.udp_port)
            if cfg.tcp_port is not None:
                await self.transports.listen_stream(host, cfg.tcp_port)
            if cfg.tls_port is not None and cfg.tls_server_context is not None:
                await self.transports.listen_stream(host, cfg.tls_port, cfg.tls_server_context)

    async def close(self) -> None:
        """End every call, cancel handler tasks, stop every transaction, close sockets."""
        for session in list(self._sessions):
            session.shutdown()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for tx in [*self._server_tx.values(), *self._client_tx.values()]:
            tx.terminate()
        await self.transports.close()

    def local_address(self, transport: str = "UDP", host: str = "127.0.0.1") -> Address:
        return self.transports.local_address(transport, host)

    @property
    def metrics(self) -> dict[str, int]:
        """Counters since start, plus live gauges."""
        out = dict(self._counters)
        out["calls_active"] = len(self._sessions)
        out["transactions_active"] = len(self._server_tx) + len(self._client_tx)
        out["connections"] = self.transports.connection_count
        if self.guard is not None:
            out.update(self.guard.counters)
            out["abuse_banned_sources"] = self.guard.banned_now
        return out

    def count(self, name: str, n: int = 1) -> None:
        self._counters[name] = self._counters.get(name, 0) + n

    def authenticator(self) -> Authenticator:
        """The injected digest helper, else `voice.sip.auth.build_authorization`."""
        if self._authenticator is None:
            module = importlib.import_module("voice.sip.auth")
            self._authenticator = cast(Authenticator, module.build_authorization)
        return self._authenticator

    # -- helpers for sessions and transactions --------------------------------------------------
    def send(self, flow: Flow, dest: Address, data: bytes) -> None:
        flow.send(data, dest)
        self._counters["messages_out"] += 1
        if self.on_sent is not None:
            self.on_sent(data)

    def _sender(self, flow: Flow, dest: Address) -> Callable[[bytes], None]:
        def send(data: bytes) -> None:
            flow.send(data, dest)
            self._counters["messages_out"] += 1
            if self.on_sent is not None:
                self.on_sent(data)
        return send

    def _sent_by(self, flow: Flow) -> tuple[str, int]:
        return _host_for_uri(self.config.public_host or flow.local[0]), flow.local[1]

    def via_for(self, flow: Flow) -> str:
        host, port = self._sent_by(flow)
        return fresh_via(flow.transport, host, port)

    def contact_for(self, flow: Flow, *, secure: bool = False) -> str:
        """Our Contact on `flow`. `sips:` only in a dialog made by a SIPS request (RFC 3261
        §12.1.1): a `sip:` request over TLS gets `sip:...;transport=tls`, which a peer behind
        a proxy that reaches it over UDP can still send its ACK and BYE to (a `sips:` target
        forbids any hop but TLS; RFC 5630)."""
        host, port = self._sent_by(flow)
        scheme = "sips" if secure and flow.transport == "TLS" else "sip"
        tp = "" if flow.transport == "UDP" or scheme == "sips" \
            else f";transport={flow.transport.lower()}"
        return f"<{scheme}:{host}:{port}{tp}>"

    def client_transaction(
        self, request: SipRequest, flow: Flow, dest: Address,
        on_response: Callable[[SipResponse], None] | None,
        on_timeout: Callable[[], None] | None = None,
    ) -> ClientTransaction:
        """Create, register and start a client transaction for `request`."""
        branch = Via.parse(request.top_via).branch or ""
        key = (branch, request.method)
        cls = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        tx = cls(key, request, self._sender(flow, dest), self._tx_clock, self.timers, flow.reliable,
                 on_response or _ignore, on_timeout or _nothing)
        tx.on_terminated = self._client_done
        self._client_tx[key] = tx
        tx.start()
        return tx

    async def request_in_dialog(self, session: InviteSession, request: SipRequest) -> SipResponse:
        """Send an in-dialog request and await its final response (ACKing a 2xx INVITE)."""
        future: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        ack: list[bytes] = []

        def on_response(resp: SipResponse) -> None:
            if resp.status < 200:
                return
            if request.method == "INVITE" and resp.status < 300 and session.dialog is not None:
                if not ack:
                    ack.append(bytes(session.dialog.create_request(
                        "ACK", self.via_for(session.flow), cseq=request.cseq[0])))
                self.send(session.flow, session.peer, ack[0])
            if not future.done():
                future.set_result(resp)

        def on_timeout() -> None:
            if not future.done():
                future.set_exception(TransactionTimeout(f"no response to {request.method}"))

        self.client_transaction(request, session.flow, session.peer, on_response, on_timeout)
        return await future

    def add_dialog(self, session: InviteSession) -> None:
        assert session.dialog is not None
        self._dialogs[session.dialog.id] = session
        self._sessions.add(session)

    def session_ended(self, session: InviteSession) -> None:
        self._sessions.discard(session)
        if session.dialog is not None:
            # In-dialog retransmissions (a BYE) are absorbed by their transaction; the
            # dialog entry itself can go now.
            self._dialogs.pop(session.dialog.id, None)

    def _client_done(self, tx: Transaction) -> None:
        self._client_tx.pop(cast(tuple[str, str], tx.key), None)
        self._counters["retransmissions"] += tx.retransmissions

    def _server_done(self, tx: Transaction) -> None:
        self._server_tx.pop(tx.key, None)
        self._counters["retransmissions"] += tx.retransmissions

    # -- the receive path ---------------------------------------------------------------------
    def handle_message(self, data: bytes, flow: Flow, peer: Address) -> None:
        """Entry point for every received message (transports call it; so can tests)."""
        self._counters["messages_in"] += 1
        if not data.strip():
            return  # RFC 5626 keep-alive
        if self.guard is not None and self.guard.blocked(peer[0]):
            return
        try:
            try:
                msg = parse_message(data, stream=flow.reliable)
                if isinstance(msg, SipRequest):
                    self._on_request(msg, flow, peer)
                else:
                    self._on_response(msg)
            except SipParseError as exc:
                self._on_malformed(data, exc.reason, flow, peer, exc.status)
        except TransportError as exc:
            self._counters["send_errors"] += 1
            log.debug("send failed while handling a message: %s", exc)
        except Exception:
            # The receive path must outlive any input and any bug above it; count and log.
            self._counters["internal_errors"] += 1
            log.exception("internal error handling a %s message", flow.transport)

    def _on_malformed(
        self, data: bytes, reason: str, flow: Flow, peer: Address, status: int = 400
    ) -> None:
        self._counters["malformed"] += 1
        reply = salvage_response(data, reason, status)
        if reply is None:
            self._counters["malformed_dropped"] += 1
            return
        self.send(flow, peer, reply)

    def _on_response(self, response: SipResponse) -> None:
        branch = Via.parse(response.top_via).branch or ""
        tx = self._client_tx.get((branch, response.cseq[1]))
        if tx is None:
            self._counters["stray_responses"] += 1
            return
        tx.receive(response)

    def _stamp_via(self, request: SipRequest, via: Via, peer: Address) -> Address:
        """RFC 3261 §18.2.1 / RFC 3581: note where the request came from; returns where a
        UDP response goes (received:rport when asked for, else received:sent-by port)."""
        rport = "rport" in via.params
        if rport or via.host.strip("[]") != peer[0]:
            via.params["received"] = peer[0]
            if rport:
                via.params["rport"] = str(peer[1])
            rest = request.headers.get_all("Via")[1:]
            request.headers.set("Via", ", ".join([str(via), *rest]))
        return peer if rport else (peer[0], via.port or 5060)

    def _on_request(self, request: SipRequest, flow: Flow, peer: Address) -> None:
        via = Via.parse(request.top_via)
        dest = self._stamp_via(request, via, peer)
        if flow.reliable:
            dest = peer  # responses go back over the connection the request came on
        key = server_key(request, via)
        tx = self._server_tx.get(key)
        if tx is not None and tx.receive(request):
            self._counters["absorbed"] += 1
            return
        method = request.method
        if self.guard is not None and method != "ACK" and not self.guard.admit(
            method, peer[0], request.headers.get("User-Agent"),
            in_dialog=request.to_tag is not None or method == "CANCEL",
        ):
            return  # no answer at all: a scanner must not learn that anything listens
        if method == "ACK":
            self._on_ack(request)
            return
        if method == "CANCEL":
            self._on_cancel(request, via, flow, dest)
            return
        tx_cls = InviteServerTransaction if method == "INVITE" else NonInviteServerTransaction
        tx = tx_cls(key, request, self._sender(flow, dest), self._tx_clock, self.timers, flow.reliable)
        tx.on_terminated = self._server_done
        self._server_tx[key] = tx
        error = self._precheck(request)
        if error is not None:
            tx.respond(error)
            return
        if request.to_tag is not None:
            session = self._dialogs.get((request.call_id, request.to_tag, request.from_tag or ""))
            if session is None:
                tx.respond(make_response(request, 481))
            else:
                session.handle_request(request, tx)
            return
        if method == "INVITE":
            assert isinstance(tx, InviteServerTransaction)
            self._on_invite(request, tx, flow, dest)
        elif method == "OPTIONS":
            resp = make_response(request, 200, to_tag=new_tag())
            resp.headers.add("Allow", self.ALLOW)
            resp.headers.add("Accept", "application/sdp")
            tx.respond(resp)
        elif method == "REGISTER" and self.on_register is not None:
            tx.respond(self.on_register(request, peer))
        elif method in ("BYE", "INFO", "UPDATE", "PRACK"):
            tx.respond(make_response(request, 481))
        elif method in _KNOWN_METHODS:
            resp = make_response(request, 405, to_tag=new_tag())
            resp.headers.add("Allow", self.ALLOW)
            tx.respond(resp)
        else:
            tx.respond(make_response(request, 501, to_tag=new_tag()))

    def _precheck(self, request: SipRequest) -> SipResponse | None:
        """Checks every request must pass before it reaches a handler."""
        scheme = request.uri.partition(":")[0].lower()
        if scheme not in ("sip", "sips", "tel"):
            return make_response(request, 416)  # RFC 4475 §3.3.2, §3.3.3
        if request.method == "INVITE":
            ctype = (request.headers.get("Content-Type") or "").partition(";")[0].strip().lower()
            if request.body and ctype != "application/sdp":
                resp = make_response(request, 415)  # RFC 4475 §3.3.6
                resp.headers.add("Accept", "application/sdp")
                return resp
            accept = request.headers.get_all("Accept")
            if accept and not any(
                a.partition(";")[0].strip().lower() in ("application/sdp", "application/*", "*/*")
                for a in accept
            ):
                resp = make_response(request, 406)  # RFC 4475 §3.3.15
                resp.headers.add("Accept", "application/sdp")
                return resp
        mf = request.headers.get("Max-Forwards")
        # A UAS answers OPTIONS at Max-Forwards 0 (§11.1); anything else has run out of hops.
        if mf is not None and int(mf) == 0 and request.method != "OPTIONS":
            return make_response(request, 483)
        require = request.headers.get_all("Require")
        if require:
            resp = make_response(request, 420)
            resp.headers.add("Unsupported", ", ".join(require))
            return resp
        return None

    def _on_ack(self, ack: SipRequest) -> None:
        session = self._dialogs.get((ack.call_id, ack.to_tag or "", ack.from_tag or ""))
        if session is not None:
            session.handle_ack(ack)

    def _on_cancel(self, cancel: SipRequest, via: Via, flow: Flow, dest: Address) -> None:
        tx = NonInviteServerTransaction(
            server_key(cancel, via), cancel, self._sender(flow, dest), self._tx_clock, self.timers,
            flow.reliable,
        )
        tx.on_terminated = self._server_done
        self._server_tx[tx.key] = tx
        invite_tx = self._server_tx.get(server_key(cancel, via, "INVITE"))
        session = invite_tx.tu if invite_tx is not None else None
        if not isinstance(session, InviteSession):
            if invite_tx is not None and invite_tx.answered_tag is not None:
                # Already answered: the CANCEL changes nothing (RFC 3261 §9.2) but matched.
                tx.respond(make_response(cancel, 200, to_tag=invite_tx.answered_tag))
            else:
                tx.respond(make_response(cancel, 481))
            return
        tag = session.dialog.local_tag if session.dialog else None
        tx.respond(make_response(cancel, 200, to_tag=tag))
        session.handle_cancel()

    def _on_invite(
        self, request: SipRequest, tx: InviteServerTransaction, flow: Flow, peer: Address
    ) -> None:
        tx.respond(make_response(request, 100))
        try:
            dialog = Dialog.from_uas(request, new_tag())
        except SipError as exc:
            tx.respond(make_response(request, 400, str(exc)[:80]))
            return
        session = InviteSession(self, request, flow, peer, dialog, SessionState.INCOMING)
        session.ist = tx
        tx.tu = session  # CANCEL finds the call through its INVITE transaction
        self._counters["calls_total"] += 1
        self.add_dialog(session)
        tx.on_timeout = lambda: session._end(EndCause.ACK_TIMEOUT)
        if self.on_invite is None:
            session.reject(480)
            return
        result = self.on_invite(session)
        if result is not None:
            self._own(result)

    def _own(self, awaitable: Awaitable[None]) -> None:
        """Run an async handler as a task this UA cancels and awaits in `close()`."""
        if asyncio.iscoroutine(awaitable):
            # The usual handler is a coroutine: run it as the task itself, without a wrapper
            # coroutine around it (one frame less on every step of every call).
            task = asyncio.get_running_loop().create_task(awaitable)
        else:
            async def run() -> None:
                await awaitable
            task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._counters["internal_errors"] += 1
            log.error("invite handler failed", exc_info=task.exception())

    # -- UAC ------------------------------------------------------------------------------------
    async def invite(
        self, target: str, sdp: bytes, *, from_uri: str, to_uri: str | None = None,
        credentials: tuple[str, str] | None = None, transport: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> OutgoingCall:
        """Place a call; returns once it is answered (and ACKed).

        Raises CallFailed (status), TransactionTimeout, TransportError. Cancelling the awaiting
        task CANCELs the call.
        """
        uri = SipUri.parse(target)
        name = (transport or uri.transport).upper()
        name_host = (uri.params.get("maddr") or uri.host).strip("[]")
        port = uri.port or (5061 if name == "TLS" else 5060)
        host = await _resolve(name_host)
        flow = await self.transports.flow_to(name, (host, port), server_name=name_host)
        sent_host, _ = self._sent_by(flow)
        request = SipRequest(method="INVITE", uri=target)
        h = request.headers
        h.add("Via", self.via_for(flow))
        h.add("Max-Forwards", "70")
        h.add("From", f"{NameAddress.parse(from_uri)};tag={new_tag()}")
        h.add("To", str(NameAddress.parse(to_uri or target)))
        h.add("Call-ID", new_call_id(sent_host))
        h.add("CSeq", "1 INVITE")
        h.add("Contact", self.contact_for(flow, secure=uri.scheme == "sips"))
        h.add("Allow", self.ALLOW)
        h.add("User-Agent", self.config.user_agent)
        for hname, value in headers or []:
            h.add(hname, value)
        if sdp:
            h.add("Content-Type", "application/sdp")
        request.body = sdp
        call = OutgoingCall(self, request, flow, (host, port), credentials, self._authenticator)
        self._sessions.add(call)
        self._counters["calls_total"] += 1
        try:
            await call.run()
        except asyncio.CancelledError:
            call.cancel()
            raise
        return call


async def _resolve(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    if not infos:
        raise TransportError(f"cannot resolve {host}")
    return str(infos[0][4][0])


def _ignore(_: SipResponse) -> None:
    pass


def _nothing() -> None:
    pass
