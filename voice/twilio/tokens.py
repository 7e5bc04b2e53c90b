"""One-time stream tokens: the webhook's TwiML hands one to Twilio, the stream must bring it.

Twilio's `<Stream url>` takes no query string, so the token travels as a TwiML `<Parameter>`
and comes back in the stream's `start.customParameters`. It binds the stream to the call the
verified webhook announced:

    token = base64url(payload) "." base64url(HMAC-SHA256(key, payload)[:16])
    payload = JSON {"c": CallSid, "f": From, "t": To, "e": expiry (s), "n": nonce}

The key is 32 random bytes made when the process starts: a token outlives neither its expiry
(`TOKEN_TTL_S`) nor the process, so no used-token list needs to survive a restart. Each
nonce is redeemed once; the used ones are kept until their token would have expired anyway
(bounded by `MAX_OUTSTANDING`). A redeemed token's From/To are the call's parties: the
stream's own parameters are not trusted for them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Twilio opens the stream right after it fetched the TwiML: a few seconds at most.
TOKEN_TTL_S = 30.0
#: Tokens issued and not yet expired that are remembered (issued or used): a flood of
#: webhooks cannot grow memory without bound; the oldest are forgotten (and then refused).
MAX_OUTSTANDING = 10_000
_MAC_BYTES = 16


class TokenRefused(Exception):
    """The stream's token is missing, forged, expired, replayed or for another call."""


@dataclass(frozen=True)
class Grant:
    """What a redeemed token vouches for: the call and its parties (from the webhook)."""

    call_sid: str
    caller: str
    dialed: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StreamTokens:
    """Issues and redeems one-time tokens; `now` is the injected clock (seconds)."""

    def __init__(self, now: Callable[[], float], *, ttl_s: float = TOKEN_TTL_S,
                 key: bytes | None = None) -> None:
        self._now = now
        self._ttl = ttl_s
        self._key = key if key is not None else secrets.token_bytes(32)
        # nonce -> expiry, for tokens issued and not redeemed; redeemed ones are removed,
        # so a replay finds nothing (and an unknown nonce with a good MAC was replayed or
        # forgotten: refused either way).
        self._issued: OrderedDict[str, float] = OrderedDict()
        self.refused = 0

    def issue(self, call_sid: str, caller: str, dialed: str) -> str:
        """A token for the stream of `call_sid`."""
        self._expire()
        nonce = secrets.token_hex(12)
        expiry = self._now() + self._ttl
        payload = json.dumps({"c": call_sid, "f": caller, "t": dialed, "e": expiry, "n": nonce},
                             separators=(",", ":")).encode()
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
        self._issued[nonce] = expiry
        while len(self._issued) > MAX_OUTSTANDING:
            self._issued.popitem(last=False)
        return f"{_b64(payload)}.{_b64(mac)}"

    def redeem(self, token: str | None, call_sid: str) -> Grant:
        """The grant of a valid token for `call_sid`, used up; `TokenRefused` saying why."""
        try:
            return self._redeem(token, call_sid)
        except TokenRefused:
            self.refused += 1
            raise

    def _redeem(self, token: str | None, call_sid: str) -> Grant:
        if not token:
            raise TokenRefused("no stream token")
        head, dot, tail = token.partition(".")
        if not dot or len(token) > 2048:
            raise TokenRefused("the stream token is malformed")
        try:
            payload, mac = _unb64(head), _unb64(tail)
        except (binascii.Error, ValueError) as exc:
            raise TokenRefused("the stream token is malformed") from exc
        good = hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, good):
            raise TokenRefused("the stream token's signature is wrong")
        fields = json.loads(payload)
        expiry = float(fields["e"])
        if self._now() > expiry:
            raise TokenRefused("the stream token has expired")
        if self._issued.pop(str(fields["n"]), None) is None:
            raise TokenRefused("the stream token was already used")
        if fields["c"] != call_sid:
            raise TokenRefused("the stream token is for another call")
        return Grant(str(fields["c"]), str(fields["f"]), str(fields["t"]))

    def _expire(self) -> None:
        now = self._now()
        while self._issued:
            nonce, expiry = next(iter(self._issued.items()))
            if expiry >= now:
                break
            del self._issued[nonce]
