"""The UAS path over real UDP sockets on loopback, driven by a raw SIP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from media.clock import FakeClock, LoopClock
from tests.sip.rawclient import RawClient, make_request
from voice.sip.session import EndCause, InviteSession
from voice.sip.transaction import Timers
from voice.sip.ua import SipUserAgent, UaConfig

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
ANSWER = SDP.replace("4000", "5000").encode()
FAST = Timers(t1=0.05, t2=0.4, t4=0.5)


class Harness:
    def __init__(self) -> None:
        self.sessions: list[InviteSession] = []
        self.behaviour: Callable[[InviteSession], None] = lambda s: (s.ring(), s.answer(ANSWER))

    def on_invite(self, session: InviteSession) -> None:
        self.sessions.append(session)
        self.behaviour(session)


@pytest.fixture
async def harness() -> AsyncIterator[tuple[SipUserAgent, Harness]]:
    h = Harness()
    ua = SipUserAgent(
        LoopClock(), UaConfig(udp_port=0, tcp_port=None, tls_port=None, timers=FAST),
        on_invite=h.on_invite,
    )
    await ua.start()
    try:
        yield ua, h
    finally:
        await ua.close()


@pytest.fixture(params=["127.0.0.1", "::1"])
async def client(
    request: pytest.FixtureRequest, harness: tuple[SipUserAgent, Harness]
) -> AsyncIterator[RawClient]:
    ua, _ = harness
    host = request.param
    c = await RawClient("UDP", ua.local_address("UDP", host)).open()
    try:
        yield c
    finally:
        await c.close()


async def test_invite_ack_bye(harness: tuple[SipUserAgent, Harness], client: RawClient) -> None:
    ua, h = harness
    text, call_id, _ = make_request(client, "INVITE", body=SDP, extra="Record-Route: <sip:p1.example;lr>\r\nRecord-Route: <sip:p2.example;lr>")
    client.send(text)
    trying = await client.recv_response()
    assert trying.status == 100 and trying.to_tag is None
    ringing = await client.recv_response()
    assert ringing.status == 180 and ringing.to_tag
    ok = await client.recv_response()
    assert ok.status == 200 and ok.body == ANSWER
    assert ok.headers.get_all("Record-Route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    assert ok.headers.get("Contact")
    assert "received=" in ok.top_via and f"rport={client.local[1]}" in ok.top_via
    session = h.sessions[0]
    assert session.remote_sdp == SDP.encode()
    tag = ok.to_tag
    client.send(make_request(client, "ACK", call_id=call_id, to_tag=tag)[0])
    client.send(make_request(client, "BYE", call_id=call_id, to_tag=tag, cseq=2)[0])
    bye_ok = await client.recv_response()
    assert bye_ok.status == 200 and bye_ok.cseq == (2, "BYE")
    assert await session.wait_terminated() is EndCause.REMOTE_BYE
    assert ua.metrics["calls_active"] == 0


async def test_2xx_retransmitted_until_ack(
    harness: tuple[SipUserAgent, Harness], client: RawClient
) -> None:
    ua, h = harness
    text, call_id, _ = make_request(client, "INVITE", body=SDP)
    client.send(text)
    statuses = []
    for _ in range(5):  # 100, 180, 200 and two retransmissions (T1=50 ms, then 100 ms)
        statuses.append((await client.recv_response()).status)
    assert statuses == [100, 180, 200, 200, 200]
    acked = []
    h.sessions[0].on_ack = lambda: acked.append(True)
    client.send(make_request(client, "ACK", call_id=call_id, to_tag=h.sessions[0].dialog.local_tag)[0])  # type: ignore[union-attr]
    while not client.queue.empty():
        client.queue.get_nowait()
    await client.expect_silence(0.5)
    assert acked == [True]
    assert ua.metrics["retransmissions"] >= 2


async def test_no_ack_ends_call_with_bye(harness: tuple[SipUserAgent, Harness], client: RawClient) -> None:
    ua, h = harness
    client.send(make_request(client, "INVITE", body=SDP)[0])
    seen = []
    while True:
        msg = await client.recv(wait=5)
        seen.append(getattr(msg, "status", None) or msg.method)  # type: ignore[union-attr]
        if seen[-1] == "BYE":
            break
    assert seen.count(200) >= 5  # 64*T1 = 3.2 s of retransmissions at 50,100,200,400,400... ms
    assert h.sessions[0].cause is EndCause.ACK_TIMEOUT


async def test_retransmitted_invite_resends_latest_provisional(
    harness: tuple[SipUserAgent, Harness], client: RawClient
) -> None:
    ua, h = harness
    h.behaviour = lambda s: s.ring()
    text, call_id, _ = make_request(client, "INVITE", body=SDP)
    client.send(text)
    assert (await client.recv_response()).status == 100
    assert (await client.recv_response()).status == 180
    client.send(text)
    again = await client.recv_response()
    assert again.status == 180
    assert len(h.sessions) == 1
    assert ua.metrics["absorbed"] == 1
    h.sessions[0].reject(486)
    assert (await client.recv_response()).status == 486
    client.send(text)  # in Completed, a repeated INVITE gets the final again
    assert (await client.recv_response()).status == 486


async def test_cancel_before_answer(harness: tuple[SipUserAgent, Harness], client: RawClient) -> None:
    ua, h = harness
    h.behaviour = lambda s: s.ring()
    text, call_id, branch = make_request(client, "INVITE", body=SDP)
    client.send(text)
    assert (await client.recv_response()).status == 100
    assert (await client.recv_response()).status == 180
    cancelled = []
    h.sessions[0].on_cancelled = lambda: cancelled.append(True)
    client.send(make_request(client, "CANCEL", call_id=call_id, branch=branch)[0])
    got = {(r.status, r.cseq[1]) for r in [await client.recv_response(), await client.recv_response()]}
    assert got == {(200, "CANCEL"), (487, "INVITE")}
    assert cancelled == [True]
    assert h.sessions[0].cause is EndCause.CANCELLED
    # The ACK for the 487 is absorbed by the server transaction (no retransmitted 487 later).
    client.send(make_request(client, "ACK", call_id=call_id, branch=branch, to_tag="x")[0])
    await client.expect_silence(0.3)


async def test_cancel_unknown_is_481(client: RawClient) -> None:
    client.send(make_request(client, "CANCEL")[0])
    assert (await client.recv_response()).status == 481


async def test_options_200(client: RawClient) -> None:
    client.send(make_request(client, "OPTIONS")[0])
    resp = await client.recv_response()
    assert resp.status == 200 and "INVITE" in (resp.headers.get("Allow") or "")


async def test_options_in_dialog_unknown_481_and_bye_unknown(client: RawClient) -> None:
    client.send(make_request(client, "BYE", to_tag="nope")[0])
    assert (await client.recv_response()).status == 481


@pytest.mark.parametrize(
    ("method", "status"), [("SUBSCRIBE", 405), ("REGISTER", 405), ("FOO", 501)]
)
async def test_unsupported_methods(client: RawClient, method: str, status: int) -> None:
    client.send(make_request(client, method)[0])
    resp = await client.recv_response()
    assert resp.status == status


async def test_max_forwards_zero_is_483(client: RawClient) -> None:
    text = make_request(client, "INVITE", body=SDP)[0].replace("Max-Forwards: 70", "Max-Forwards: 0")
    client.send(text)
    assert (await client.recv_response()).status == 483


async def test_malformed_gets_400_with_reason(harness: tuple[SipUserAgent, Harness], client: RawClient) -> None:
    ua, _ = harness
    text = make_request(client, "OPTIONS")[0].replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS")
    client.send(text)
    raw = await client.recv_raw()
    assert raw.startswith(b"SIP/2.0 400 bad CSeq\r\n")
    assert b"CSeq: one OPTIONS" in raw  # copied as received, so the peer can match it
    text = make_request(client, "OPTIONS")[0].replace("Max-Forwards: 70", "Max-Forwards: x")
    client.send(text)
    resp = await client.recv_response()
    assert resp.status == 400 and resp.reason == "bad Max-Forwards"
    # Without From the peer can't match the 400 to a transaction, but a person reading a
    # capture still learns what was wrong: answered with what could be copied.
    client.send(make_request(client, "OPTIONS")[0].replace("\r\nFrom:", "\r\nX:"))
    raw = await client.recv_raw()
    assert raw.startswith(b"SIP/2.0 400 missing From\r\n") and b"\r\nFrom:" not in raw
    # Not even a request line: nothing to answer, dropped and counted.
    client.send(b"\x00\xffgarbage that is not SIP\r\n\r\n")
    await client.expect_silence(0.2)
    assert ua.metrics["malformed"] == 4 and ua.metrics["malformed_dropped"] == 1


async def test_register_hook(harness: tuple[SipUserAgent, Harness], client: RawClient) -> None:
    ua, _ = harness
    from voice.sip.builder import make_response

    seen = []

    def on_register(req, source):  # type: ignore[no-untyped-def]
        seen.append(source)
        return make_response(req, 200, to_tag="r")

    ua.on_register = on_register
    client.send(make_request(client, "REGISTER")[0])
    assert (await client.recv_response()).status == 200
    assert seen and seen[0][1] == client.local[1]


async def test_local_bye(harness: tuple[SipUserAgent, Harness], client: RawClient) -> None:
    ua, h = harness
    text, call_id, _ = make_request(client, "INVITE", body=SDP)
    client.send(text)
    for status in (100, 180, 200):
        ok = await client.recv_response()
        assert ok.status == status
    client.send(make_request(client, "ACK", call_id=call_id, to_tag=ok.to_tag)[0])
    await client.expect_silence(0.1)
    h.sessions[0].bye()
    bye = await client.recv_request()
    assert bye.method == "BYE" and bye.to_tag == "ftag" and bye.from_tag == ok.to_tag
    assert bye.uri.startswith("sip:caller@")
    assert h.sessions[0].cause is EndCause.LOCAL_BYE


async def test_2xx_retransmit_schedule_and_ack_timeout_on_a_fake_clock() -> None:
    """T1, 2*T1, 4*T1... capped at T2, then the BYE exactly at 64*T1 after the 200."""
    clock = FakeClock()
    h = Harness()
    # Binary fractions, so stepping the fake clock adds up exactly: T1 = 1/16 s, T2 = 1/2 s.
    timers = Timers(t1=0.0625, t2=0.5, t4=0.5)
    ua = SipUserAgent(
        clock, UaConfig(udp_port=0, tcp_port=None, tls_port=None, timers=timers),
        on_invite=h.on_invite,
    )
    await ua.start()
    client = await RawClient("UDP", ua.local_address("UDP", "127.0.0.1")).open()
    try:
        client.send(make_request(client, "INVITE", body=SDP)[0])
        assert [(await client.recv_response()).status for _ in range(3)] == [100, 180, 200]
        # In 1/64 s steps: after T1, 2*T1, 4*T1, then every T2 up to 3.9375 s.
        sent_at = []
        for step in range(1, 256):
            clock.advance(1 / 64)
            sent = ua.metrics["retransmissions"]
            if sent > len(sent_at):
                sent_at.append(step)
        assert sent_at == [4, 12, 28, 60, 92, 124, 156, 188, 220, 252]
        assert h.sessions[0].cause is None
        clock.advance(1 / 64)  # 4 s: 64*T1
        assert h.sessions[0].cause is EndCause.ACK_TIMEOUT
        for _ in range(10):  # the retransmissions, then the BYE
            assert (await client.recv_response()).status == 200
        assert (await client.recv_request()).method == "BYE"
    finally:
        await client.close()
        await ua.close()
