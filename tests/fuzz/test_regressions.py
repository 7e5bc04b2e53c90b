"""Inputs the fuzzers found that broke a parser, each now a clear error (tests/fuzz/run.py)."""

from __future__ import annotations

import pathlib

import pytest

from ivr.validator import parse_flow
from ivr.verbs.base import Problems
from routing.config import parse_routing
from routing.model import InvalidConfig


def test_control_character_in_routing_yaml_is_a_positioned_error() -> None:
    # routing_yaml target: yaml's reader raised ReaderError out of load_located.
    with pytest.raises(InvalidConfig, match=r"f\.yaml:2:6: .*U\+0013"):
        parse_routing("queues:\n  a: \x13\n", "f.yaml")


def test_control_character_in_flow_yaml_is_a_problem() -> None:
    # flow_yaml target: the same ReaderError escaped the flow validator.
    problems = Problems()
    assert parse_flow(b"name: x\nsteps: \x06\n", pathlib.Path("x.yaml"), problems,
                      file="x.yaml") is None
    assert [str(m) for _, m in problems.items] == ["character U+0006 is not allowed in YAML"]


def test_ptime_with_trailing_separator_character_reads_as_checked() -> None:
    # sdp target: "a=ptime:20\x1d" passed the parser's check (str.strip removes U+001D) but
    # the ptime property's int() raised ValueError out of answer_offer.
    from voice.sdp import SessionDescription, answer_offer

    offer = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0\r\na=ptime:20\x1d\r\n")
    _, params = answer_offer(offer, "127.0.0.1", 40000, session_id=1)
    assert params.ptime == 20


def test_media_url_with_unbalanced_bracket_is_bad_inbound() -> None:
    # twilio_webhook target: urlsplit raised ValueError("Invalid IPv6 URL") out of parse_inbound.
    from channels.base import BadInbound
    from channels.twilio_webhook import decode_form, parse_inbound

    account = "AC" + "0" * 32
    form = decode_form(b"MessageSid=SM" + b"1" * 32 + b"&AccountSid=" + account.encode()
                       + b"&From=%2B34600000000&To=%2B34910000000&Body=hola&NumMedia=1"
                       b"&MediaUrl0=https%3A%2F%2Fapi.twili[.com%2Fm&MediaContentType0=image%2Fjpeg")
    with pytest.raises(BadInbound) as info:
        parse_inbound(form, account)
    assert info.value.where == "MediaUrl0"
