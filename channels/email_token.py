"""Reply tokens: which case an email reply belongs to, signed so it cannot be forged.

A token names a case by its random public id (never the sequential key) and carries an
HMAC-SHA256 of it under a server secret kept in the data dir (`email-reply.key`, 0600):

    token     = base32(public_id) "." base32(HMAC(secret, "reply:" + public_id)[:12])
    Reply-To  = reply+TOKEN@reply_domain
    Message-ID = <TOKEN.RANDOM@reply_domain>     (ours: a reply's In-Reply-To names the case too)

Base32 in lower case because mail systems may change the case of a local part; 96 bits of
MAC are far beyond guessing over SMTP. A token whose MAC does not match is `None`: the
caller falls back to the sender's own case, so a tampered token never lands anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from pathlib import Path

from channels import keys

KEY_FILE = "email-reply.key"
_MAC_BYTES = 12
_PREFIX = "reply+"
# A public id is at most 64 characters (web.cases_api): its base32 is at most 104.
_MAX_TOKEN = 140


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    text = text.upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def load_secret(data_dir: Path) -> bytes:
    """The server's reply secret in `data_dir` (`{KEY_FILE}`): see `channels.keys`."""
    return keys.load_secret(data_dir, KEY_FILE, "reply key")


class ReplyTokens:
    """Signs and verifies case references for `reply_domain` with `secret`."""

    def __init__(self, secret: bytes, reply_domain: str) -> None:
        self._secret = secret
        self.reply_domain = reply_domain.lower()

    def _mac(self, public_id: str) -> bytes:
        digest = hmac.new(self._secret, b"reply:" + public_id.encode("utf-8"), hashlib.sha256)
        return digest.digest()[:_MAC_BYTES]

    def token(self, public_id: str) -> str:
        """The token naming case `public_id`."""
        return f"{_b32(public_id.encode('utf-8'))}.{_b32(self._mac(public_id))}"

    def verify(self, token: str) -> str | None:
        """The public id `token` names, or None if it is malformed or its MAC is wrong."""
        if len(token) > _MAX_TOKEN:
            return None
        body, dot, mac = token.lower().partition(".")
        if not dot or not body or not mac:
            return None
        try:
            public_id = _unb32(body).decode("utf-8")
            given = _unb32(mac)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(given, self._mac(public_id)):
            return None
        return public_id

    def reply_address(self, public_id: str) -> str:
        """`reply+TOKEN@reply_domain` for case `public_id`."""
        return f"{_PREFIX}{self.token(public_id)}@{self.reply_domain}"

    def message_id(self, public_id: str) -> str:
        """A fresh Message-ID of ours for an email on case `public_id`."""
        return f"<{self.token(public_id)}.{secrets.token_hex(8)}@{self.reply_domain}>"

    def is_reply_address(self, address: str) -> bool:
        """Is `address` shaped like one of our reply addresses (MAC not checked)?"""
        local, at, domain = address.lower().rpartition("@")
        return bool(at) and domain == self.reply_domain and local.startswith(_PREFIX) \
            and len(local) > len(_PREFIX)

    def case_of_address(self, address: str) -> str | None:
        """The public id named by a reply address, None if it is not ours or was tampered."""
        if not self.is_reply_address(address):
            return None
        local = address.lower().rpartition("@")[0]
        return self.verify(local[len(_PREFIX):])

    def case_of_message_id(self, message_id: str) -> str | None:
        """The public id named by one of our Message-IDs, None for any other id."""
        value = message_id.strip().strip("<>").lower()
        local, at, domain = value.rpartition("@")
        if not at or domain != self.reply_domain:
            return None
        token, dot, _random = local.rpartition(".")
        return self.verify(token) if dot else None
