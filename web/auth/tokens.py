"""Random secrets: session ids, CSRF tokens and bearer tokens, how they are stored, and who
a bearer token acts as.

Bearer tokens carry 256 bits from `secrets`, so a fast digest is enough to store them (no
one can brute-force the preimage of a random 256-bit value); only the SHA-256 hex digest is
kept, and the token itself is shown once when it is made.

Who a token acts as (its principal) is never just its name, or an admin could mint a token
called "ana" and act as the agent ana:

    agent token      bound to an existing agent when it is made (the API and the CLI ask
                     for the agent by name); acts as that user, and only while that user is
                     an enabled agent. Its record's name is "AGENT:LABEL", or "AGENT" when
                     the label is the agent's name (user names cannot hold ':'), so the
                     binding is part of the unique name the token is listed and revoked by.
    any other token  acts as itself, as "token:NAME", which no user name can be.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Recognisable in a config file or a leaked log, so it can be found and revoked.
BEARER_PREFIX = "ctk_"
# Principals of tokens that act as themselves; ':' is in no user name.
TOKEN_PRINCIPAL_PREFIX = "token:"
_BOUND_SEPARATOR = ":"


def bound_name(agent: str, label: str) -> str:
    """The record name of an agent token bound to `agent` (both valid names)."""
    return agent if label == agent else f"{agent}{_BOUND_SEPARATOR}{label}"


def bound_agent(name: str) -> str:
    """The agent an agent token's record name binds it to."""
    return name.partition(_BOUND_SEPARATOR)[0]


def own_principal(name: str) -> str:
    """The principal of a token that acts as itself (never a user's name)."""
    return TOKEN_PRINCIPAL_PREFIX + name


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
