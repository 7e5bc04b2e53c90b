"""Handover tokens (`channels.handover_tokens`): what opens and what is refused, and why."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from channels.handover_tokens import (
    HandoverTokens,
    LinkRefused,
    link,
    load_secret,
)

NOW = 1_800_000_000.0
CASE = "c_Q2FzZU9uZQ"


def _tokens(seed: bytes = b"k" * 32) -> HandoverTokens:
    return HandoverTokens(seed)


def _code(tokens: HandoverTokens, token: str, now: float = NOW) -> str:
    with pytest.raises(LinkRefused) as refused:
        tokens.verify(token, now=now)
    assert refused.value.reason  # a sentence for the customer
    return refused.value.code


def test_a_fresh_token_names_its_case_and_expiry() -> None:
    tokens = _tokens()
    token = tokens.issue(CASE, now=NOW, ttl=600)
    claim = tokens.verify(token, now=NOW + 599)
    assert claim.case == CASE
    assert claim.expires == int(NOW + 600)
    assert len(claim.nonce) == 11


def test_two_tokens_for_one_case_differ_by_their_nonce() -> None:
    tokens = _tokens()
    a, b = tokens.issue(CASE, now=NOW), tokens.issue(CASE, now=NOW)
    assert a != b
    assert tokens.verify(a, now=NOW).nonce != tokens.verify(b, now=NOW).nonce


def test_expired() -> None:
    tokens = _tokens()
    token = tokens.issue(CASE, now=NOW, ttl=600)
    assert _code(tokens, token, NOW + 600) == "expired"
    assert _code(tokens, token, NOW + 86_400) == "expired"


def test_tampered_payload_or_mac() -> None:
    tokens = _tokens()
    token = tokens.issue(CASE, now=NOW, ttl=600)
    body, mac = token.split(".")
    # Another case in a well-formed payload, with the old MAC.
    forged = HandoverTokens(b"x" * 32).issue("c_other", now=NOW, ttl=600).split(".")[0]
    assert _code(tokens, f"{forged}.{mac}") == "tampered"
    # One character of the MAC changed.
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    assert _code(tokens, f"{body}.{flipped}") == "tampered"
    # A longer expiry written into the payload by hand.
    import base64
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    version, case, expires, nonce = raw.split("|")
    longer = f"{version}|{case}|{int(expires) + 10**6}|{nonce}".encode()
    longer_b64 = base64.urlsafe_b64encode(longer).decode().rstrip("=")
    assert _code(tokens, f"{longer_b64}.{mac}", NOW + 700) == "tampered"


def test_wrong_key() -> None:
    token = _tokens(b"a" * 32).issue(CASE, now=NOW, ttl=600)
    assert _code(_tokens(b"b" * 32), token) == "tampered"


@pytest.mark.parametrize("token", ["", "abc", "abc.", ".abc", "a.b.c", "!!!.***", "x" * 500])
def test_malformed(token: str) -> None:
    assert _code(_tokens(), token) in {"malformed", "tampered"}
    if "." not in token or token.startswith(".") or token.endswith("."):
        assert _code(_tokens(), token) == "malformed"


def test_issue_checks_its_input() -> None:
    tokens = _tokens()
    with pytest.raises(ValueError, match="case_public_id"):
        tokens.issue("bad id|with bar", now=NOW)
    with pytest.raises(ValueError, match="ttl"):
        tokens.issue(CASE, now=NOW, ttl=0)
    with pytest.raises(ValueError, match="at least"):
        HandoverTokens(b"short")


def test_key_file_is_private_and_stable(tmp_path: Path) -> None:
    first = load_secret(tmp_path)
    path = tmp_path / "handover.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(tmp_path) == first
    os.chmod(path, 0o644)
    assert load_secret(tmp_path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_link() -> None:
    assert link("https://x.test/pbx/", "T.M") == "https://x.test/pbx/chat/continue?t=T.M"
