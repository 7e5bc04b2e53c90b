"""One-time stream tokens: valid once, for one call, for a short time, and unforgeable."""

from __future__ import annotations

import pytest

from voice.twilio.tokens import StreamTokens, TokenRefused

CA = "CA" + "a" * 32
OTHER = "CA" + "b" * 32


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_token_is_redeemed_once_for_its_call() -> None:
    clock = Clock()
    tokens = StreamTokens(clock)
    token = tokens.issue(CA, "+34612345678", "+34910000000")
    grant = tokens.redeem(token, CA)
    assert (grant.call_sid, grant.caller, grant.dialed) == (CA, "+34612345678", "+34910000000")
    with pytest.raises(TokenRefused, match="already used"):
        tokens.redeem(token, CA)
    assert tokens.refused == 1


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # MAC changed
    lambda t: "x" + t,  # payload changed
    lambda t: t.replace(".", ""),
    lambda t: "",
])
def test_forged_tokens_are_refused(mangle: object) -> None:
    tokens = StreamTokens(Clock())
    token = tokens.issue(CA, "+1", "+2")
    with pytest.raises(TokenRefused):
        tokens.redeem(mangle(token), CA)  # type: ignore[operator]
    assert tokens.redeem(token, CA).call_sid == CA  # the genuine one still works


def test_another_process_key_or_call_or_time_is_refused() -> None:
    clock = Clock()
    tokens = StreamTokens(clock, ttl_s=30)
    elsewhere = StreamTokens(clock)
    with pytest.raises(TokenRefused, match="signature"):
        tokens.redeem(elsewhere.issue(CA, "+1", "+2"), CA)
    with pytest.raises(TokenRefused, match="another call"):
        tokens.redeem(tokens.issue(CA, "+1", "+2"), OTHER)
    late = tokens.issue(CA, "+1", "+2")
    clock.t += 31
    with pytest.raises(TokenRefused, match="expired"):
        tokens.redeem(late, CA)
    with pytest.raises(TokenRefused, match="no stream token"):
        tokens.redeem(None, CA)
