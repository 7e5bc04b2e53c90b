"""SIP message parsing and serialisation: compact forms, folding, lists, lengths, errors."""

from __future__ import annotations

import pytest

from voice.sip.errors import SipParseError
from voice.sip.headers import NameAddress, SipUri, Via
from voice.sip.message import (
    SipRequest,
    SipResponse,
    StreamFramer,
    header_param,
    parse_message,
)

INVITE = (
    b"INVITE sip:100@127.0.0.1 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa;rport, SIP/2.0/TCP proxy;branch=z9hG4bKb\r\n"
    b"Via: SIP/2.0/UDP edge:5060;branch=z9hG4bKc\r\n"
    b"f: \"Alice\" <sip:alice@example.com>;tag=1928\r\n"
    b"t: <sip:100@127.0.0.1>\r\n"
    b"i: a84b4c76e66710\r\n"
    b"CSEQ: 314159 INVITE\r\n"
    b"Max-Forwards: 70\r\n"
    b"Subject: lunch\r\n  tomorrow\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n\r\n"
    b"v=0\r\nEXTRA"
)


def test_compact_forms_folding_lists_and_content_length() -> None:
    msg = parse_message(INVITE)
    assert isinstance(msg, SipRequest)
    assert msg.method == "INVITE" and msg.uri == "sip:100@127.0.0.1"
    assert msg.headers.get_all("VIA") == [
        "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa;rport",
        "SIP/2.0/TCP proxy;branch=z9hG4bKb",
        "SIP/2.0/UDP edge:5060;branch=z9hG4bKc",
    ]
    assert msg.headers.get("subject") == "lunch tomorrow"
    assert msg.call_id == "a84b4c76e66710"
    assert msg.cseq == (314159, "INVITE")
    assert msg.from_tag == "1928" and msg.to_tag is None
    assert msg.body == b"v=0\r"  # extra datagram bytes beyond Content-Length are dropped


def test_round_trip_is_stable() -> None:
    msg = parse_message(INVITE)
    again = parse_message(bytes(msg))
    assert again == msg
    assert bytes(again) == bytes(msg)
    assert b"Content-Length: 4\r\n" in bytes(msg)


def test_response_parses() -> None:
    data = (
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=x\r\n"
        b"To: <sip:c@d>;tag=y\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse_message(data)
    assert isinstance(msg, SipResponse)
    assert (msg.status, msg.reason, msg.to_tag) == (180, "Ringing", "y")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m.replace(b"l: 4", b"l: 400"), "Content-Length exceeds body"),
        (lambda m: m.replace(b"l: 4", b"l: x"), "bad Content-Length"),
        (lambda m: m.replace(b"i: a84b4c76e66710\r\n", b""), "missing Call-ID"),
        (lambda m: m.replace(b"314159 INVITE", b"1 BYE"), "CSeq method does not match"),
        (lambda m: m.replace(b"314159 INVITE", b"x INVITE"), "bad CSeq"),
        (lambda m: m.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), "unsupported SIP version"),
        (lambda m: m.replace(b"INVITE sip:", b"INVITE  sip:", 1), "malformed start line"),
        (lambda m: m.replace(b"Max-Forwards: 70", b"Max-Forwards: 999"), "bad Max-Forwards"),
        (lambda m: m.replace(b"Subject: lunch", b"Sub ject lunch"), "malformed header line"),
        (lambda m: m.split(b"\r\n\r\n")[0], "no end of headers"),
        (lambda m: b"\xff\xfe" + m, "not UTF-8"),
    ],
)
def test_malformed_messages_say_why(mutate: object, reason: str) -> None:
    assert callable(mutate)
    with pytest.raises(SipParseError) as info:
        parse_message(mutate(INVITE))
    assert reason in info.value.reason


def test_stream_framer_cuts_by_content_length_and_skips_keepalives() -> None:
    one = bytes(parse_message(INVITE))
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + one[:30]) == []
    assert framer.feed(one[30:] + one[:-2]) == [one]
    assert framer.feed(one[-2:]) == [one]
    with pytest.raises(SipParseError, match="missing Content-Length"):
        StreamFramer().feed(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n")


def test_header_views() -> None:
    via = Via.parse("SIP/2.0/udp [::1]:5062;branch=z9hG4bKx;rport")
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "[::1]", 5062, "z9hG4bKx")
    assert "rport" in via.params and via.params["rport"] is None
    uri = SipUri.parse("sips:bob:pw@example.com:5071;transport=tcp?subject=x")
    assert (uri.user, uri.password, uri.port, uri.transport) == ("bob", "pw", 5071, "tcp")
    assert str(SipUri.parse(str(uri))) == str(uri)
    with pytest.raises(SipParseError):
        SipUri.parse("http://example.com")


def test_quoted_text_is_data_not_syntax() -> None:
    # A '<' in a display name and a ';tag=' inside a quoted parameter are not structure.
    addr = NameAddress.parse('"A <b>" <sip:x@y>;tag=1')
    assert (addr.display, addr.uri, addr.tag) == ("A <b>", "sip:x@y", "1")
    assert header_param('<sip:a@b>;foo="a;tag=evil";tag=real', "tag") == "real"
    assert header_param('"x;tag=no" <sip:a@b;tag=uri>;tag=yes', "tag") == "yes"
    assert header_param("sip:a@b;tag=plain", "tag") == "plain"


@pytest.mark.parametrize(("value", "allowed"), [
    ('"a\\\x00b" <sip:a@b>', True),  # a quoted-pair inside a quoted string
    ('"a\\\\\\\x00b" <sip:a@b>', True),  # "\\" then "\<NUL>"
    ('"a\\\\\x00b" <sip:a@b>', False),  # "\\" then a bare NUL, still quoted
    ('"a\x00b" <sip:a@b>', False),
    ('a\\\x00b <sip:a@b>', False),  # a backslash outside quotes escapes nothing
    ('"a" \x00 <sip:a@b>', False),  # after the string closed
    ('"open\r\nX-B: \\\x00', False),  # a line's end closes an unclosed string
    ('"\\"\\\x00" <sip:a@b>', True),  # an escaped quote does not close it
])
def test_a_nul_is_allowed_only_as_a_quoted_pair(value: str, allowed: bool) -> None:
    head = f"OPTIONS sip:a@b SIP/2.0\r\nTo: {value}\r\n"
    data = (head + "From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
            "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n").encode()
    if allowed:
        assert parse_message(data).call_id == "x"
    else:
        with pytest.raises(SipParseError, match="NUL"):
            parse_message(data)


VIA = b"\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\n\r\n"


@pytest.mark.parametrize(("start", "answered"), [
    (b"INVITE  sip:a@b   SIP/2.0", True),  # extra spaces: refused by the parser, answered
    (b"OPTIONS sip:a@b SIP/7.0", True),
    (b"INVITE sip:a@b" + b" " * 60_000 + b"SIP/2.0", True),  # held the loop seconds before
    (b"INVITE x" + b" " * 60_000 + b"y", False),  # no version: not a request line
    (b"ACK sip:a@b SIP/2.0", False),  # never answered
    (b"INVITE SIP/2.0", False),  # no URI
    (b"IN<VITE sip:a@b SIP/2.0", False),
    (b"INVITE \tsip:a@b SIP/2.0", False),  # the URI must start with a visible character
])
def test_a_refused_request_is_answered_only_when_its_start_line_is_one(
    start: bytes, answered: bool
) -> None:
    from voice.sip.builder import salvage_response

    reply = salvage_response(start + VIA, "bad request line")
    assert (reply is not None) == answered
    if reply is not None:
        assert reply.startswith(b"SIP/2.0 400 bad request line\r\nVia: SIP/2.0/UDP h;")
