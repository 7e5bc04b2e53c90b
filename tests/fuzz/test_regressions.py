"""Inputs the fuzzers found that broke a parser, each now a clear error (tests/fuzz/run.py)."""

from __future__ import annotations

import pathlib

import pytest

from ivr.validator import parse_flow
from ivr.verbs.base import Problems
from routing.config import parse_routing
from routing.model import InvalidConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_control_character_in_routing_yaml_is_a_positioned_error() -> None:
    # routing_yaml target: yaml's reader raised ReaderError out of load_located.
    with pytest.raises(InvalidConfig, match=r"f\.yaml:2:6: .*U\+0013"):
        parse_routing("queues:\n  a: \x13\n", "f.yaml")


def test_control_character_in_flow_yaml_is_a_problem() -> None:
    # flow_yaml target: the same ReaderError escaped the flow validator.
    problems = Problems()
    assert (
        parse_flow(b"name: x\nsteps: \x06\n", pathlib.Path("x.yaml"), problems, file="x.yaml")
        is None
    )
    assert [str(m) for _, m in problems.items] == ["character U+0006 is not allowed in YAML"]


def test_ptime_with_trailing_separator_character_reads_as_checked() -> None:
    # sdp target: "a=ptime:20\x1d" passed the parser's check (str.strip removes U+001D) but
    # the ptime property's int() raised ValueError out of answer_offer.
    from voice.sdp import SessionDescription, answer_offer

    offer = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0\r\na=ptime:20\x1d\r\n"
    )
    _, params = answer_offer(offer, "127.0.0.1", 40000, session_id=1)
    assert params.ptime == 20


def test_media_url_with_unbalanced_bracket_is_bad_inbound() -> None:
    # twilio_webhook target: urlsplit raised ValueError("Invalid IPv6 URL") out of parse_inbound.
    from channels.base import BadInbound
    from channels.twilio_webhook import decode_form, parse_inbound

    account = "AC" + "0" * 32
    form = decode_form(
        b"MessageSid=SM"
        + b"1" * 32
        + b"&AccountSid="
        + account.encode()
        + b"&From=%2B34600000000&To=%2B34910000000&Body=hola&NumMedia=1"
        b"&MediaUrl0=https%3A%2F%2Fapi.twili[.com%2Fm&MediaContentType0=image%2Fjpeg"
    )
    with pytest.raises(BadInbound) as info:
        parse_inbound(form, account)
    assert info.value.where == "MediaUrl0"


# The flow and routing loader (ivr/yamlpos.py): crashes found while making it fast for the
# flow_yaml and routing_yaml targets (by reading it and by a differential run of the old and the
# new loader on mutated flows, not by atheris), and libyaml's speed with PyYAML's messages.


def _flow_problems(text: str) -> list[str]:
    problems = Problems()
    assert parse_flow(text.encode(), pathlib.Path("x.yaml"), problems, file="x.yaml") is None
    return [f"{pos.line}:{pos.column}: {message}" for pos, message in problems.items]


def test_alias_inside_its_own_anchor_is_refused() -> None:
    # `&q [*q]` is a list that contains itself; building it recursed until RecursionError.
    with pytest.raises(InvalidConfig, match=r"^f\.yaml:1:9: nested more than 50 levels deep"):
        parse_routing("queues: &q [*q]\n", "f.yaml")
    assert _flow_problems("name: x\nsteps: &s {a: *s}\n") == [
        "2:8: nested more than 50 levels deep (counting what aliases stand for)"
    ]


@pytest.mark.parametrize("depth", [60, 1_000, 200_000])
def test_deep_nesting_is_a_positioned_problem(depth: int) -> None:
    # PyYAML composes recursively (RecursionError at about 300 levels); libyaml's composer
    # overflows the C stack at about 100,000 and kills the process.
    text = "steps: " + "[" * depth + "]" * depth + "\n"
    assert _flow_problems(text) == ["1:57: nested more than 50 levels deep"]
    with pytest.raises(InvalidConfig, match=r"^f\.yaml:1:205: nested more than 50 levels deep"):
        parse_routing("queues: " + "{a: " * depth + "}" * depth, "f.yaml")


def test_aliases_standing_for_too_many_values_are_refused() -> None:
    # "Billion laughs": nine lines of anchors stand for 10**9 values, each built again.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert _flow_problems("\n".join(lines)) == ["4:5: aliases stand for more than 10000 values"]


@pytest.mark.parametrize(
    ("scalar", "problem"),
    [
        ('!!int ""', "bad value: '' is not a valid int"),
        ("!!int 0x", "bad value: '0x' is not a valid int"),
        ('!!float "-"', "bad value: '-' is not a valid float"),
        ("!!bool maybe", "bad value: 'maybe' is not a valid bool"),
    ],
)
def test_tagged_scalar_that_cannot_be_read_is_a_problem(scalar: str, problem: str) -> None:
    # PyYAML's constructor raised IndexError/ValueError/KeyError out of the validators.
    assert f"1:7: {problem}" in _flow_problems(f"name: {scalar}\nsteps: [hangup]\n")


def test_surrogate_in_routing_text_is_a_positioned_error() -> None:
    # libyaml cannot encode a lone surrogate (UnicodeEncodeError); PyYAML's reader names it.
    with pytest.raises(InvalidConfig, match=r"^f\.yaml:1:9: character U\+D800 is not allowed"):
        parse_routing("queues: \ud800\n", "f.yaml")


def test_libyaml_and_pyyaml_read_flows_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml reads what it can (about 20 times faster); the values, positions and messages
    # are the ones PyYAML alone gives (as on a machine without libyaml).
    import yaml

    from ivr import yamlpos

    assert yaml.__with_libyaml__, "libyaml is part of the PyYAML wheel"
    texts = [
        (ROOT / "ivr" / "flows" / "demo.yaml").read_text(encoding="utf-8"),
        (ROOT / "routing" / "demo.yaml").read_text(encoding="utf-8"),
        "a: ñé\nb: [x, ☃, {c: 1}]\r\n'd': 2\u2028e: 3\n",
        "queues: [{name: a}\n",  # syntax error: PyYAML's message
        "a: *nowhere\nb: [\n",  # the first error in the text: the undefined alias
        "a: 1\n---\nb: 2\n",
        "a: &x [1, 2]\nb: *x\n",
    ]

    def read(text: str) -> tuple[object, ...]:
        problems = Problems()
        doc = yamlpos.load_located(text, "f.yaml", problems)
        shape = None if doc is None else (doc.value, doc.values, doc.keys)
        return shape, [(str(pos), message) for pos, message in problems.items]

    with_libyaml = [read(text) for text in texts]
    monkeypatch.setattr(yamlpos, "_FAST", None)
    assert [read(text) for text in texts] == with_libyaml
    assert with_libyaml[3][1] == [
        ("f.yaml:2:1", "YAML syntax error: expected ',' or ']', but got '<stream end>'")
    ]
    assert with_libyaml[4][1] == [
        ("f.yaml:1:4", "YAML syntax error: found undefined alias 'nowhere'")
    ]


def test_status_line_without_reason_phrase_is_read() -> None:
    # sip target: "SIP/2.0 100" with no SP and no reason phrase raised AttributeError in the
    # parser (the UA counted an internal error and dropped the response).
    from voice.sip.message import SipResponse, parse_message

    response = parse_message(
        b"SIP/2.0 200\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(response, SipResponse)
    assert (response.status, response.reason) == (200, "")


@pytest.mark.parametrize("step", ["goto: 5", "say: true", "hangup: 3"])
def test_shorthand_verb_with_a_non_string_value_is_a_problem(step: str) -> None:
    # flow_yaml target: `shorthand not in item[verb_name]` raised TypeError on an int or bool.
    problems = _flow_problems(f"name: x\nnumbers: ['1']\nsteps:\n  - {step}\n  - hangup\n")
    verb = step.split(":")[0]
    assert problems and all(p.startswith(f"4:{5 + len(verb) + 2}: {verb}: ") for p in problems)
