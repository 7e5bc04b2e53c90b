"""One fuzz target per parser that reads input from outside.

Each `Target` feeds the fuzzer's bytes to a parser and lets through only the exceptions that
parser documents for bad input (`allowed`); anything else escaping is a bug the fuzzer
reports. `seeds` are small valid inputs the fuzzer starts mutating from.

The imports are inside `load()` so `run.py` can import the parsers under atheris'
coverage instrumentation.
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field

Fn = Callable[[bytes], None]


@dataclass
class Target:
    name: str
    fn: Fn
    allowed: tuple[type[BaseException], ...]
    seeds: list[bytes] = field(default_factory=list)


ROOT = pathlib.Path(__file__).resolve().parents[2]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _sip() -> Target:
    from media.clock import FakeClock
    from tests.sip.rfc4475.messages import CASES
    from voice.sip.errors import SipParseError
    from voice.sip.message import StreamFramer
    from voice.sip.session import InviteSession
    from voice.sip.ua import SipUserAgent, UaConfig

    class Flow:
        transport = "UDP"
        reliable = False
        local = ("127.0.0.1", 5060)

        def send(self, data: bytes, addr: tuple[str, int]) -> None:
            pass

    def answer(session: InviteSession) -> None:
        session.ring()
        session.answer(b"v=0\r\n")

    clock = FakeClock()
    ua = SipUserAgent(
        clock, UaConfig(udp_port=None, tcp_port=None, tls_port=None), on_invite=answer
    )
    flow = Flow()

    def fn(data: bytes) -> None:
        # No separate parse_message(data): the UA parses it as the first thing it does, and
        # anything but SipParseError escaping there shows as internal_errors below.
        with contextlib.suppress(SipParseError):
            StreamFramer().feed(data)
        ua.handle_message(data, flow, ("127.0.0.1", 5070))
        if ua.metrics["internal_errors"]:
            raise AssertionError("the UA's receive path raised (internal_errors > 0)")
        clock.advance(0.05)

    return Target("sip", fn, (SipParseError,), [c.data for c in CASES])


def _sdp() -> Target:
    from tests.sip.rfc4475.messages import ESC01, WSINV
    from voice.sdp import SdpError, SessionDescription, answer_offer

    def fn(data: bytes) -> None:
        offer = SessionDescription.parse(data)
        str(offer)
        answer_offer(offer, "127.0.0.1", 40000, session_id=1)

    seeds = [m.split(b"\r\n\r\n", 1)[1] for m in (WSINV, ESC01)]
    seeds.append(
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        b"a=fmtp:101 0-16\r\na=ptime:20\r\na=rtcp:4001 IN IP4 10.0.0.1\r\na=sendrecv\r\n"
    )
    return Target("sdp", fn, (SdpError,), seeds)


def _rtp() -> Target:
    from media.rtp.packet import RtpError, RtpPacket
    from media.rtp.rtcp import parse_compound

    def fn(data: bytes) -> None:
        try:
            packet = RtpPacket.parse(data)
            bytes(packet)
        except RtpError:
            pass
        parse_compound(data)

    rtp = bytes([0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7]) + bytes(160)
    rr = bytes([0x81, 201, 0, 7, 0, 0, 0, 1]) + bytes(24)
    return Target("rtp", fn, (RtpError,), [rtp, rr])


def _rfc4733() -> Target:
    from media.rtp.dtmf import DtmfReceiver, TelephoneEvent
    from media.rtp.packet import RtpError, RtpPacket

    receiver = DtmfReceiver()

    def fn(data: bytes) -> None:
        TelephoneEvent.parse(data[:4])
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            return
        receiver.feed(packet.timestamp, packet.payload, packet.marker)

    ev = bytes([0x80, 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, 5, 0x8A, 0x03, 0x20])
    return Target("rfc4733", fn, (RtpError,), [ev, bytes([1, 10, 0, 160])])


def _twilio_webhook() -> Target:
    from channels.base import BadInbound
    from channels.twilio_webhook import decode_form, parse_inbound, parse_status

    account = "AC" + "0" * 32

    def fn(data: bytes) -> None:
        form = decode_form(data)
        with contextlib.suppress(BadInbound):
            parse_inbound(form, account)
        parse_status(form, account)

    seed = (
        b"MessageSid=SM"
        + b"1" * 32
        + b"&AccountSid="
        + account.encode()
        + b"&From=%2B34600000000&To=%2B34910000000&Body=hola&NumMedia=1"
        b"&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm&MediaContentType0=image%2Fjpeg"
        b"&MessageStatus=delivered"
    )
    return Target("twilio_webhook", fn, (BadInbound,), [seed])


def _media_streams() -> Target:
    from voice.twilio.protocol import StreamProtocolError, parse_inbound, parse_outbound

    def fn(data: bytes) -> None:
        text = _text(data)
        with contextlib.suppress(StreamProtocolError):
            parse_inbound(text)
        parse_outbound(text)

    seeds = [
        b'{"event":"connected","protocol":"Call","version":"1.0.0"}',
        b'{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ'
        + b"1" * 32
        + b'","accountSid":"AC'
        + b"0" * 32
        + b'","callSid":"CA'
        + b"2" * 32
        + b'","tracks":["inbound"],"customParameters":{},"mediaFormat":{"encoding":'
        b'"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ' + b"1" * 32 + b'"}',
        b'{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1",'
        b'"timestamp":"5","payload":"//////8="},"streamSid":"MZ' + b"1" * 32 + b'"}',
        b'{"event":"dtmf","streamSid":"MZ' + b"1" * 32 + b'","sequenceNumber":"5",'
        b'"dtmf":{"track":"inbound_track","digit":"1"}}',
    ]
    return Target("media_streams", fn, (StreamProtocolError,), seeds)


def _desk() -> Target:
    from web.desk.protocol import DeskProtocolError, parse_command_text

    def fn(data: bytes) -> None:
        parse_command_text(_text(data))

    seeds = [
        b'{"type":"state","state":"available"}',
        b'{"type":"decline","offer_id":"o1"}',
        b'{"type":"accept","offer_id":"o1","sdp":"v=0\\r\\n"}',
        b'{"type":"mute","on":true}',
    ]
    return Target("desk", fn, (DeskProtocolError,), seeds)


def _chat() -> Target:
    from channels.chat_protocol import ProtocolError, parse

    def fn(data: bytes) -> None:
        parse(data)

    seeds = [
        b'{"type":"hello","token":"t"}',
        b'{"type":"message","text":"hola"}',
        b'{"type":"call","sdp":"v=0\\r\\ns=-\\r\\n"}',
        b'{"type":"dtmf","digits":"2#"}',
        b'{"type":"hangup"}',
    ]
    return Target("chat", fn, (ProtocolError,), seeds)


def _flow_yaml() -> Target:
    from ivr.validator import parse_flow
    from ivr.verbs.base import Problems

    path = ROOT / "ivr" / "flows" / "fuzz.yaml"

    def fn(data: bytes) -> None:
        parse_flow(data, path, Problems(), file="fuzz.yaml")

    return Target("flow_yaml", fn, (), [(ROOT / "ivr" / "flows" / "demo.yaml").read_bytes()])


def _routing_yaml() -> Target:
    from routing.config import parse_routing
    from routing.model import InvalidConfig

    def fn(data: bytes) -> None:
        parse_routing(_text(data), "fuzz.yaml")

    return Target(
        "routing_yaml", fn, (InvalidConfig,), [(ROOT / "routing" / "demo.yaml").read_bytes()]
    )


LOADERS: dict[str, Callable[[], Target]] = {
    "sip": _sip,
    "sdp": _sdp,
    "rtp": _rtp,
    "rfc4733": _rfc4733,
    "twilio_webhook": _twilio_webhook,
    "media_streams": _media_streams,
    "desk": _desk,
    "chat": _chat,
    "flow_yaml": _flow_yaml,
    "routing_yaml": _routing_yaml,
}


def load(name: str) -> Target:
    """Build the named target (imports its parser)."""
    return LOADERS[name]()
