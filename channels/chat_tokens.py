"""Who a chat visitor is: our signed visitor token, and a site's word for its logged-in user.

Visitor token (anonymous visitors). The server makes a random visitor id and signs it with a
secret kept in the data dir (`chat-visitor.key`, 32 random bytes, 0600):

    token = VISITOR_ID "." base64url(HMAC-SHA256(secret, "visitor:" + VISITOR_ID)[:16])

The widget keeps the token and presents it on every connection, so a reload (or a return
tomorrow) continues the same conversation; a token whose MAC is wrong is not an error, just a
new visitor. The visitor id alone names nobody else's conversation, and 128 bits of MAC
cannot be guessed over a socket.

Site identity (visitors the embedding site knows). The site passes its own `user_id` and
`user_hash` = hex(HMAC-SHA256(site secret, user_id)), computed on its server with a secret it
shares with us (`chat.site_secret_files`; several are accepted, so a secret can be rotated).
Only a matching hash joins the visitor to that customer (chat identity `site:<user_id>`,
verified); anything else is `Forged`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from channels import keys
from channels.base import Forged

KEY_FILE = "chat-visitor.key"
_MAC_BYTES = 16
_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{22}\Z")
_HEX = re.compile(r"[0-9a-fA-F]{64}\Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(data_dir: Path) -> bytes:
    """The server's visitor-token secret in `data_dir` (`{KEY_FILE}`): see `channels.keys`."""
    return keys.load_secret(data_dir, KEY_FILE, "chat visitor key")


class VisitorTokens:
    """Issues and verifies visitor tokens under `secret`."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, visitor_id: str) -> bytes:
        digest = hmac.new(self._secret, b"visitor:" + visitor_id.encode("ascii"), hashlib.sha256)
        return digest.digest()[:_MAC_BYTES]

    def issue(self) -> tuple[str, str]:
        """A new visitor: (visitor id, token)."""
        visitor_id = secrets.token_urlsafe(16)
        return visitor_id, self.token(visitor_id)

    def token(self, visitor_id: str) -> str:
        """The token of `visitor_id`."""
        return f"{visitor_id}.{_b64(self._mac(visitor_id))}"

    def verify(self, token: str) -> str | None:
        """The visitor id `token` carries, or None if it is malformed or its MAC is wrong."""
        visitor_id, dot, mac = token.partition(".")
        if not dot or not _VISITOR_ID.match(visitor_id) or len(mac) > 32:
            return None
        try:
            given = _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        return visitor_id if hmac.compare_digest(given, self._mac(visitor_id)) else None


def user_hash(secret: bytes, user_id: str) -> str:
    """What a site computes for its user: hex HMAC-SHA256(secret, user_id as UTF-8)."""
    return hmac.new(secret, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_user(site_secrets: Sequence[bytes], user_id: str, given_hash: str) -> str:
    """The chat identity `site:<user_id>` if `given_hash` is the HMAC of `user_id` under one
    of `site_secrets`; `Forged` (saying why, never the id) otherwise."""
    if not site_secrets:
        raise Forged("this server does not accept site identities (no chat.site_secret_files)")
    if not _HEX.match(given_hash):
        raise Forged("user_hash must be 64 hexadecimal digits (HMAC-SHA256 of user_id)")
    given = bytes.fromhex(given_hash)
    matched = False
    for secret in site_secrets:  # every secret is tried: the time says nothing about which
        expected = hmac.new(secret, user_id.encode("utf-8"), hashlib.sha256).digest()
        matched |= hmac.compare_digest(given, expected)
    if not matched:
        raise Forged("user_hash does not match user_id under the site's secret")
    return f"site:{user_id}"
