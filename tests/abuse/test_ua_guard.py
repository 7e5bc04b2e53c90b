"""`SipUserAgent` with a `SourceGuard`, in process: what is dropped gets no answer at all,
what passes is handled as before, a retransmission of an admitted INVITE is absorbed without
costing a token, and the UA's metrics carry the guard's counters."""

from __future__ import annotations

import asyncio

from media.clock import FakeClock
from voice.sip.abuse import AbuseSettings, SourceGuard
from voice.sip.session import InviteSession
from voice.sip.ua import SipUserAgent, UaConfig


class CaptureFlow:
    transport = "UDP"
    reliable = False
    local = ("127.0.0.1", 5060)

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append(data)


def request(method: str, n: int, *, agent: str = "Yealink", to_tag: str = "") -> bytes:
    tag = f";tag={to_tag}" if to_tag else ""
    return (
        f"{method} sip:100@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-{method}-{n}\r\n"
        f"From: <sip:a@192.0.2.9>;tag=f{n}\r\nTo: <sip:100@127.0.0.1>{tag}\r\n"
        f"Call-ID: c{n}@192.0.2.9\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        f"User-Agent: {agent}\r\nContact: <sip:a@192.0.2.9:5060>\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def make(clock: FakeClock, **kw: object) -> tuple[SipUserAgent, CaptureFlow, list[InviteSession]]:
    calls: list[InviteSession] = []

    def on_invite(session: InviteSession) -> None:
        calls.append(session)
        session.reject(486)

    ua = SipUserAgent(clock, UaConfig(udp_port=None, tcp_port=None, tls_port=None),
                      on_invite=on_invite)
    ua.guard = SourceGuard(AbuseSettings(**kw), clock.now)  # type: ignore[arg-type]
    return ua, CaptureFlow(), calls


async def test_a_scanner_gets_no_answer_and_its_source_is_banned() -> None:
    clock = FakeClock()
    ua, flow, calls = make(clock)
    peer = ("192.0.2.9", 5060)
    ua.handle_message(request("OPTIONS", 1, agent="friendly-scanner"), flow, peer)  # type: ignore[arg-type]
    ua.handle_message(request("INVITE", 2), flow, peer)  # type: ignore[arg-type]
    ua.handle_message(request("BYE", 3, to_tag="x"), flow, peer)  # type: ignore[arg-type]
    assert flow.sent == [] and calls == []
    other = ("192.0.2.10", 5060)
    ua.handle_message(request("OPTIONS", 4), flow, other)  # type: ignore[arg-type]
    assert len(flow.sent) == 1 and flow.sent[0].startswith(b"SIP/2.0 200")
    m = ua.metrics
    assert (m["abuse_dropped_scanner"], m["abuse_dropped_banned"], m["abuse_bans"],
            m["abuse_banned_sources"]) == (1, 2, 1, 1)
    assert m["internal_errors"] == 0
    await ua.close()


async def test_retransmissions_are_absorbed_without_costing_tokens() -> None:
    clock = FakeClock()
    ua, flow, calls = make(clock, burst=2, rate=0.001)
    peer = ("192.0.2.9", 5060)
    for _ in range(5):  # one INVITE and four retransmissions of it
        ua.handle_message(request("INVITE", 1), flow, peer)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert len(calls) == 1 and ua.metrics["absorbed"] == 4
    ua.handle_message(request("INVITE", 2), flow, peer)  # type: ignore[arg-type]
    assert len(calls) == 2 and ua.metrics["abuse_bans"] == 0
    sent = len(flow.sent)
    ua.handle_message(request("INVITE", 3), flow, peer)  # type: ignore[arg-type]
    assert len(calls) == 2 and len(flow.sent) == sent  # over the limit: no answer
    assert ua.metrics["abuse_dropped_rate"] == 1 and ua.metrics["abuse_bans"] == 1
    await ua.close()
