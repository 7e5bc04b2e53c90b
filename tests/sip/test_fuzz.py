"""Hypothesis: mutated SIP messages never crash the parser or the UA's receive path.

Valid INVITE/OPTIONS/BYE bytes are truncated, byte-flipped, stripped of headers, given
duplicate or garbage headers, wrong Content-Length, compact forms and folded lines. Each goes
through `parse_message` and through `SipUserAgent.handle_message` with a capture flow; a
request the parser refuses must be answered 400 whenever its five key headers survive.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.clock import FakeClock
from voice.sip.errors import SipParseError
from voice.sip.message import parse_message
from voice.sip.session import InviteSession
from voice.sip.ua import SipUserAgent, UaConfig

BASE = [
    (
        "INVITE sip:ivr@127.0.0.1:5060 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{n};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=f{n}\r\nTo: <sip:ivr@127.0.0.1>\r\n"
        "Call-ID: c{n}@test\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5070>\r\n"
        "Content-Type: application/sdp\r\nContent-Length: 13\r\n\r\nv=0\r\ns=fuzz\r\n"
    ),
    (
        "OPTIONS sip:ivr@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{n}\r\n"
        "f: <sip:a@127.0.0.1>;tag=f{n}\r\nt: <sip:ivr@127.0.0.1>\r\ni: o{n}\r\n"
        "CSeq: 7 OPTIONS\r\nl: 0\r\n\r\n"
    ),
    (
        "BYE sip:ivr@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{n}\r\n"
        "From: <sip:a@127.0.0.1>;tag=f{n}\r\nTo: <sip:ivr@127.0.0.1>;tag=x\r\n"
        "Call-ID: b{n}@test\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    ),
    (
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{n}\r\n"
        "From: <sip:a@127.0.0.1>;tag=f\r\nTo: <sip:b@127.0.0.1>;tag=t\r\nCall-ID: r{n}\r\n"
        "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ),
]
GARBAGE = [b"X-Junk: \xff\xfe", b"Via: nonsense", b"CSeq: -1 INVITE", b"Content-Length: 99999",
           b"Content-Length: abc", b"To: <sip:", b"From: ;tag=", b"Max-Forwards: 0",
           b"Max-Forwards: 300", b"Require: 100rel", b"Record-Route: <garbage", b": empty",
           b" folded continuation", b"\tfolded tab", b"Call-ID:", b"Contact: *", b"l: 3",
           b"Via: SIP/2.0/UDP [::1]:99999;branch=z9hG4bKq", b"Contact: <sip:x@[::1>"]



@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(BASE)).format(n=draw(st.integers(0, 10**6))).encode())
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, 6))
        lines = bytes(data).split(b"\r\n")
        if op == 0 and data:  # truncate
            del data[draw(st.integers(0, len(data) - 1)):]
        elif op == 1 and data:  # flip bytes
            for _ in range(draw(st.integers(1, 4))):
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif op == 2 and len(lines) > 2:  # delete a header line
            del lines[draw(st.integers(1, len(lines) - 2))]
            data = bytearray(b"\r\n".join(lines))
        elif op == 3 and len(lines) > 2:  # duplicate a header line
            i = draw(st.integers(1, len(lines) - 2))
            lines.insert(i, lines[i])
            data = bytearray(b"\r\n".join(lines))
        elif op == 4 and len(lines) > 1:  # insert garbage / folding / compact forms
            lines.insert(draw(st.integers(1, len(lines) - 1)), draw(st.sampled_from(GARBAGE)))
            data = bytearray(b"\r\n".join(lines))
        elif op == 5:  # random bytes anywhere
            pos = draw(st.integers(0, len(data)))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12))
        elif op == 6:  # lowercase / swap line endings
            data = bytearray(bytes(data).replace(b"\r\n", draw(st.sampled_from([b"\n", b"\r\n ", b"\r\n"])), 3))
    return bytes(data)


class CaptureFlow:
    transport = "UDP"
    reliable = False
    local = ("127.0.0.1", 5060)

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append(data)


def _answer(session: InviteSession) -> None:
    session.ring()
    session.answer(b"v=0\r\n")


CLOCK = FakeClock()
UA = SipUserAgent(CLOCK, UaConfig(udp_port=None, tcp_port=None, tls_port=None), on_invite=_answer)
PEER = ("127.0.0.1", 5070)


def _is_request_with_key_headers(data: bytes) -> bool:
    from voice.sip.builder import salvage_response
    return salvage_response(data, "x") is not None


@settings(max_examples=10_500, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_messages_never_crash(data: bytes) -> None:
    try:
        parse_message(data)
        parsed = True
    except SipParseError as exc:
        assert exc.reason and "\n" not in exc.reason
        parsed = False
    flow = CaptureFlow()
    before = UA.metrics["internal_errors"]
    UA.handle_message(data, flow, PEER)  # type: ignore[arg-type]
    assert UA.metrics["internal_errors"] == before
    if not parsed and _is_request_with_key_headers(data):
        # 400, or 505 for a request line naming another SIP version (RFC 4475 §3.1.2.16)
        assert flow.sent and flow.sent[0].startswith((b"SIP/2.0 400 ", b"SIP/2.0 505 "))
    for out in flow.sent:  # whatever we send must itself be parseable SIP
        if not out.startswith((b"SIP/2.0 400 ", b"SIP/2.0 505 ")):
            parse_message(out)
    CLOCK.advance(0.05)
