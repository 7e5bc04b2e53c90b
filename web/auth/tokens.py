"""Random secrets: session ids, CSRF tokens and bearer tokens, and how they are stored.

Bearer tokens carry 256 bits from `secrets`, so a fast digest is enough to store them (no
one can brute-force the preimage of a random 256-bit value); only the SHA-256 hex digest is
kept, and the token itself is shown once when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Recognisable in a config file or a leaked log, so it can be found and revoked.
BEARER_PREFIX = "ctk_"


def new_secret() -> str:
    """32 random bytes, URL-safe base64 (43 characters): session ids and CSRF tokens."""
    return secrets.token_urlsafe(32)


def new_bearer_token() -> str:
    """A fresh bearer token for an integration."""
    return BEARER_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored instead of a session id or a bearer token: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (CSRF tokens)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
