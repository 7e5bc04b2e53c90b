"""The chat channel's pieces on their own: the widget protocol (parse / to_json), visitor
tokens and their key file, the site's user HMAC, the per-visitor token bucket, the `chat:`
config section."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from centralita.settings import ConfigError, load_settings
from channels.base import Forged
from channels.chat_config import ChatConfigError, normalize_origin, parse_chat_settings
from channels.chat_protocol import (
    MAX_LINE_CHARS,
    Ack,
    Error,
    Hello,
    Line,
    PreChat,
    ProtocolError,
    Receipt,
    Say,
    Typing,
    Welcome,
    parse,
)
from channels.chat_rate import RateLimits, TokenBucket
from channels.chat_tokens import KEY_FILE, VisitorTokens, load_secret, user_hash, verify_user

SITE_SECRET = b"s" * 40


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


# -- protocol -------------------------------------------------------------------------------

def test_client_frames_parse() -> None:
    assert parse('{"type":"hello"}') == Hello()
    assert parse(json.dumps({"type": "hello", "token": "t.k", "last_seen": 7})) == \
        Hello("t.k", None, None, 7)
    assert parse('{"type":"message","id":"a-1","body":"hola\\nqué tal"}') == \
        Say("a-1", "hola\nqué tal")
    assert parse(b'{"type":"typing","active":true}') == Typing(True)
    assert parse('{"type":"ack","id":3,"status":"read"}') == Ack(3, "read")
    assert parse('{"type":"prechat","name":" Ana ","email":""}') == PreChat("Ana", None, None)


@pytest.mark.parametrize(("frame", "where", "what"), [
    (b"\xff\xfe{}", "frame", "not UTF-8"),
    ("{not json", "frame", "not JSON"),
    ("[1]", "frame", "JSON object"),
    ('{"type":"shout"}', "type", "one of"),
    ('{"type":"message","id":"a b","body":"x"}', "id", "letters"),
    ('{"type":"message","id":"a","body":"   "}', "body", "empty"),
    ('{"type":"message","id":"a","body":"x\\u0000y"}', "body", "control"),
    ('{"type":"message","id":"a","body":"x","extra":1}', "extra", "unknown"),
    ('{"type":"hello","user_id":"u1"}', "user_hash", "together"),
    ('{"type":"hello","last_seen":-1}', "last_seen", "integer"),
    ('{"type":"hello","last_seen":true}', "last_seen", "integer"),
    ('{"type":"ack","id":1,"status":"seen"}', "status", "delivered or read"),
    ('{"type":"typing","active":"yes"}', "active", "true or false"),
])
def test_bad_frames_name_what_and_where(frame: str | bytes, where: str, what: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(frame)
    assert caught.value.where == where
    assert what in caught.value.what
    assert caught.value.code == "bad_frame"


def test_an_oversized_line_is_too_long_and_keeps_its_id() -> None:
    frame = json.dumps({"type": "message", "id": "big1", "body": "x" * (MAX_LINE_CHARS + 1)})
    with pytest.raises(ProtocolError) as caught:
        parse(frame)
    assert (caught.value.code, caught.value.where, caught.value.client_id) == \
        ("too_long", "body", "big1")


def test_server_frames_serialise() -> None:
    assert json.loads(Welcome("tok", False).to_json()) == \
        {"type": "welcome", "token": "tok", "identified": False}
    line = json.loads(Line(5, "agent", "¿Hola?", "2026-01-01T00:00:00+00:00", "sent").to_json())
    assert line == {"type": "line", "id": 5, "from": "agent", "body": "¿Hola?",
                    "at": "2026-01-01T00:00:00+00:00", "status": "sent"}
    assert json.loads(Receipt("c1", 5, True).to_json())["duplicate"] is True
    assert json.loads(Error("rate_limited", "slow", retry_after=1.5).to_json()) == \
        {"type": "error", "code": "rate_limited", "message": "slow", "retry_after": 1.5}


# -- tokens ---------------------------------------------------------------------------------

def test_visitor_tokens_verify_and_refuse_tampering(tmp_path: Path) -> None:
    tokens = VisitorTokens(load_secret(tmp_path))
    visitor, token = tokens.issue()
    assert tokens.verify(token) == visitor
    other, _ = tokens.issue()
    assert other != visitor
    mac = token.partition(".")[2]
    assert tokens.verify(f"{other}.{mac}") is None  # someone else's id under this MAC
    assert tokens.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert tokens.verify("nonsense") is None
    assert tokens.verify(visitor) is None
    assert VisitorTokens(b"k" * 32).verify(token) is None  # another server's key


def test_the_visitor_key_is_private_and_kept(tmp_path: Path) -> None:
    first = load_secret(tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert load_secret(tmp_path) == first  # same key after a restart, tightened again
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_site_user_hash() -> None:
    good = user_hash(SITE_SECRET, "cust-42")
    assert verify_user([b"o" * 40, SITE_SECRET], "cust-42", good) == "site:cust-42"
    assert verify_user([SITE_SECRET], "cust-42", good.upper()) == "site:cust-42"
    with pytest.raises(Forged, match="does not match"):
        verify_user([SITE_SECRET], "cust-43", good)
    with pytest.raises(Forged, match="64 hexadecimal"):
        verify_user([SITE_SECRET], "cust-42", good[:-1])
    with pytest.raises(Forged, match="does not accept"):
        verify_user([], "cust-42", good)


# -- rate -----------------------------------------------------------------------------------

def test_token_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock()
    bucket = TokenBucket(5, 10.0, clock)
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    assert bucket.take() == pytest.approx(2.0)
    clock.t += 1.0
    assert bucket.take() == pytest.approx(1.0)
    clock.t += 1.0
    assert bucket.take() == 0.0
    clock.t += 1000.0
    assert bucket.full


def test_rate_limits_are_per_visitor_and_bounded() -> None:
    clock = Clock()
    limits = RateLimits(1, 10.0, clock, max_visitors=2)
    assert limits.take("a") == 0.0
    assert limits.take("a") > 0
    assert limits.take("b") == 0.0
    assert limits.take("c") == 0.0  # "a" forgotten: it would be full by the time it returns
    assert limits.take("a") == 0.0


# -- config ---------------------------------------------------------------------------------

def test_chat_section(tmp_path: Path) -> None:
    secret = tmp_path / "site.key"
    secret.write_text("z" * 40 + "\n")
    settings = parse_chat_settings({
        "allowed_origins": ["HTTPS://Shop.Example.com:443/", "http://127.0.0.1:8000"],
        "site_secret_files": [str(secret)], "rate": {"lines": 3, "per_seconds": 5},
    }, "c.yaml: chat")
    assert settings.allowed_origins == ("https://shop.example.com", "http://127.0.0.1:8000")
    assert settings.site_secrets == (b"z" * 40,)
    assert (settings.rate_lines, settings.rate_seconds) == (3, 5.0)
    assert parse_chat_settings(None, "chat").allowed_origins == ()
    assert normalize_origin("https://a.example/path") is None


@pytest.mark.parametrize(("value", "where"), [
    ({"allowed_origins": ["shop.example.com"]}, "allowed_origins[0]"),
    ({"site_secret_files": ["/nonexistent/key"]}, "site_secret_files[0]: cannot read"),
    ({"rate": {"lines": 0}}, "rate.lines"),
    ({"max_line_chars": 10**6}, "max_line_chars"),
    ({"colour": "blue"}, "unknown key 'colour'"),
])
def test_bad_chat_section_names_the_key(value: object, where: str) -> None:
    with pytest.raises(ChatConfigError, match=f"chat.*{where[:12]}"):
        parse_chat_settings(value, "c.yaml: chat")


def test_a_short_site_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("short\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"chat:\n  site_secret_files: ['{tmp_path / 'k'}']\n")
    with pytest.raises(ConfigError, match=r"chat.site_secret_files\[0\].*at least 32"):
        load_settings(config, {})
    config.write_text("chat:\n")
    assert load_settings(config, {}).chat is not None
