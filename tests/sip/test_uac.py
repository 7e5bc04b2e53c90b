"""Outbound calls: one in-process UA calls another over real loopback sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from media.clock import LoopClock
from voice.sip.errors import CallFailed, TransactionTimeout
from voice.sip.session import EndCause, InviteSession, SessionState
from voice.sip.transaction import Timers
from voice.sip.ua import SipUserAgent, UaConfig

OFFER = b"v=0\r\ns=offer\r\n"
ANSWER = b"v=0\r\ns=answer\r\n"
FAST = Timers(t1=0.05, t2=0.4, t4=0.5)


class Callee:
    def __init__(self) -> None:
        self.sessions: list[InviteSession] = []
        self.behaviour: Callable[[InviteSession], None] = lambda s: s.answer(ANSWER)

    def on_invite(self, session: InviteSession) -> None:
        self.sessions.append(session)
        self.behaviour(session)


def config() -> UaConfig:
    return UaConfig(hosts=("127.0.0.1",), udp_port=0, tcp_port=0, tls_port=None, timers=FAST)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[SipUserAgent, SipUserAgent, Callee]]:
    callee = Callee()
    a = SipUserAgent(LoopClock(), config())
    b = SipUserAgent(LoopClock(), config(), on_invite=callee.on_invite)
    await a.start()
    await b.start()
    try:
        yield a, b, callee
    finally:
        await a.close()
        await b.close()


def target(ua: SipUserAgent, transport: str = "UDP") -> str:
    host, port = ua.local_address(transport)
    return f"sip:ivr@{host}:{port}" + ("" if transport == "UDP" else f";transport={transport}")


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_call_reinvite_and_bye(
    pair: tuple[SipUserAgent, SipUserAgent, Callee], transport: str
) -> None:
    a, b, callee = pair
    call = await a.invite(target(b, transport), OFFER, from_uri="sip:ivr@centralita.test")
    assert call.state is SessionState.CONFIRMED and call.remote_sdp == ANSWER
    inbound = callee.sessions[0]
    acked = asyncio.Event()
    inbound.on_ack = acked.set
    await asyncio.wait_for(acked.wait(), 2)  # may already be confirmed
    assert inbound.state is SessionState.CONFIRMED and inbound.remote_sdp == OFFER
    # Hold from the UAC side, answered by the callee's on_reinvite hook.
    inbound.on_reinvite = lambda sdp: b"v=0\r\ns=held\r\n" if b"sendonly" in sdp else ANSWER
    assert await call.reinvite(b"v=0\r\na=sendonly\r\n") == b"v=0\r\ns=held\r\n"
    await asyncio.sleep(0.1)  # the ACK of that re-INVITE reaches the callee
    # And the other way: the UAS side re-INVITEs the UAC (default: our last SDP again).
    assert await inbound.reinvite(b"v=0\r\na=recvonly\r\n") == call.local_sdp
    call.bye()
    assert await asyncio.wait_for(inbound.wait_terminated(), 2) is EndCause.REMOTE_BYE
    assert call.cause is EndCause.LOCAL_BYE
    assert a.metrics["calls_active"] == 0 and b.metrics["calls_active"] == 0


async def test_rejected_call_raises_with_status(pair: tuple[SipUserAgent, SipUserAgent, Callee]) -> None:
    a, b, callee = pair
    callee.behaviour = lambda s: s.reject(486)
    with pytest.raises(CallFailed) as info:
        await a.invite(target(b), OFFER, from_uri="sip:ivr@centralita.test")
    assert info.value.status == 486


async def test_cancel_by_cancelling_the_task(pair: tuple[SipUserAgent, SipUserAgent, Callee]) -> None:
    a, b, callee = pair
    callee.behaviour = lambda s: s.ring()
    task = asyncio.create_task(a.invite(target(b), OFFER, from_uri="sip:ivr@centralita.test"))
    for _ in range(100):
        if callee.sessions and callee.sessions[0].state is SessionState.EARLY:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # let the 180 reach the caller
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.wait_for(callee.sessions[0].wait_terminated(), 2) is EndCause.CANCELLED
    for _ in range(100):
        if a.metrics["calls_active"] == 0:
            break
        await asyncio.sleep(0.01)
    assert a.metrics["calls_active"] == 0


async def test_digest_challenge_is_answered(pair: tuple[SipUserAgent, SipUserAgent, Callee]) -> None:
    a, b, callee = pair
    seen: list[str | None] = []

    def behaviour(s: InviteSession) -> None:
        seen.append(s.request.headers.get("Authorization"))
        if s.request.headers.get("Authorization") is None:
            s.reject(401, headers=[("WWW-Authenticate",
                                    'Digest realm="centralita", nonce="abc123", qop="auth"')])
        else:
            s.answer(ANSWER)

    callee.behaviour = behaviour
    call = await a.invite(target(b), OFFER, from_uri="sip:ivr@centralita.test",
                          credentials=("alice", "secret"))
    assert call.state is SessionState.CONFIRMED
    assert seen[0] is None and seen[1] is not None and 'username="alice"' in seen[1]
    assert callee.sessions[1].request.cseq[0] == 2
    call.bye()


async def test_unanswered_call_times_out() -> None:
    a = SipUserAgent(LoopClock(), UaConfig(hosts=("127.0.0.1",), udp_port=0, tcp_port=None,
                                           tls_port=None, timers=Timers(t1=0.01)))
    await a.start()
    try:
        # Nobody listens on port 9 of loopback (discard): Timer B = 0.64 s.
        with pytest.raises(TransactionTimeout):
            await a.invite("sip:x@127.0.0.1:9", OFFER, from_uri="sip:ivr@centralita.test")
    finally:
        await a.close()
