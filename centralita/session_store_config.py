"""The `sessions:` section of the config file: where browser logins are kept.

    sessions:
      store: redis                        # memory (default) or redis
      redis_url: redis://127.0.0.1:6379/0
      key_prefix: "centralita:session:"

With `redis`, logins are written through to Redis (web.auth.redis_sessions) and read back
at start: restarting the server logs nobody out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from centralita.redis_config import DEFAULT_REDIS_URL, parse_store_section


class SessionStoreConfigError(Exception):
    """The `sessions:` section is wrong; the message names the key."""


@dataclass(frozen=True)
class SessionStoreSettings:
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = DEFAULT_REDIS_URL
    key_prefix: str = "centralita:session:"


def parse_session_store(value: Any, where: str) -> SessionStoreSettings:
    """The section's settings, or SessionStoreConfigError naming `where` and the key."""
    store, url, prefix = parse_store_section(
        value, where, keys=("store", "redis_url", "key_prefix"),
        default_prefix=SessionStoreSettings.key_prefix, error=SessionStoreConfigError)
    return SessionStoreSettings(store, url, prefix)
