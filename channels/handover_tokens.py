"""Handover links: a signed, expiring token that opens the web chat on one customer's case.

A call (or an SMS / email conversation) continues by chat when the customer opens

    https://SERVER/chat/continue?t=TOKEN

    TOKEN = base64url(payload) "." base64url(HMAC-SHA256(secret, "handover:" + payload)[:16])
    payload = "1|<case public id>|<expiry, unix seconds>|<nonce, 8 random bytes base64url>"

signed with a secret kept in the data dir (`handover.key`, 32 random bytes, 0600; its own key
so it can be rotated apart from the chat visitor and email reply keys: deleting the file
invalidates every link sent). The MAC is checked (in constant time) before anything in the
payload is believed; the expiry is checked next. Whether the case is still open is the web
route's question (`web.handover_api`), as is what a valid link does.

`verify` never returns None: it returns the `Claim` or raises `LinkRefused` with a `code`
("malformed", "tampered", "expired") and a sentence a customer can read. Tokens carry no
personal data (the public id is an opaque random string), yet they are credentials: never
logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from channels import keys

KEY_FILE = "handover.key"
VERSION = "1"
_MAC_BYTES = 16
_MAX_TOKEN_CHARS = 400
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_NONCE = re.compile(r"[A-Za-z0-9_-]{11}\Z")
#: Default lifetime of a link: long enough to be read later in the day, short enough that an
#: old text message found on a phone next week opens nothing.
DEFAULT_TTL_S = 24 * 3600.0
MAX_TTL_S = 14 * 24 * 3600.0

REASONS = {
    "malformed": "This link is incomplete or damaged. Please use the full link we sent you.",
    "tampered": "This link is not valid: it was not issued by us or it was changed.",
    "expired": "This link has expired. Please contact us again and we will send you a new one.",
    "closed": "This conversation is closed. Please contact us again to start a new one.",
}


class LinkRefused(Exception):
    """A handover link that opens nothing; `code` is one of `REASONS`, `reason` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(REASONS[code])
        self.code = code
        self.reason = REASONS[code]


@dataclass(frozen=True)
class Claim:
    """What a verified token says: the case (public id), when it expires, its nonce."""

    case: str
    expires: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(data_dir: Path) -> bytes:
    """The server's handover-link secret in `data_dir` (`{KEY_FILE}`): see `channels.keys`."""
    return keys.load_secret(data_dir, KEY_FILE, "handover link key")


class HandoverTokens:
    """Issues and verifies handover tokens under `secret`."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < keys.MIN_SECRET_BYTES:
            raise ValueError(f"the handover secret must be at least {keys.MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"handover:" + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, case_public_id: str, *, now: float, ttl: float = DEFAULT_TTL_S) -> str:
        """A token for case `case_public_id` valid for `ttl` seconds from `now`."""
        if not _PUBLIC_ID.match(case_public_id):
            raise ValueError("case_public_id must be 1-64 characters of [A-Za-z0-9_-]")
        if not 0 < ttl <= MAX_TTL_S:
            raise ValueError(f"ttl must be between 0 and {MAX_TTL_S:.0f} seconds")
        nonce = _b64(secrets.token_bytes(8))
        payload = f"{VERSION}|{case_public_id}|{int(now + ttl)}|{nonce}".encode("ascii")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, *, now: float) -> Claim:
        """The claim of `token`, or `LinkRefused`: malformed, tampered (MAC wrong: another
        key, or any byte changed) or expired at `now`."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARS:
            raise LinkRefused("malformed")
        body, dot, mac = token.partition(".")
        if not dot or not body or not mac:
            raise LinkRefused("malformed")
        try:
            payload = _unb64(body)
            given = _unb64(mac)
        except (binascii.Error, ValueError):
            raise LinkRefused("malformed") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise LinkRefused("tampered")
        # Signed by us: the fields are ours, yet checked rather than trusted blindly.
        try:
            version, case, expires, nonce = payload.decode("ascii").split("|")
            expiry = int(expires)
        except (UnicodeDecodeError, ValueError):
            raise LinkRefused("malformed") from None
        if version != VERSION or not _PUBLIC_ID.match(case) or not _NONCE.match(nonce):
            raise LinkRefused("malformed")
        if now >= expiry:
            raise LinkRefused("expired")
        return Claim(case, expiry, nonce)


def link(base_url: str, token: str) -> str:
    """The URL a customer opens: `base_url` (the server's public URL) + /chat/continue."""
    return f"{base_url.rstrip('/')}/chat/continue?t={token}"
