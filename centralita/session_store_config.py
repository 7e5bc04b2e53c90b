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
from urllib.parse import urlsplit


class SessionStoreConfigError(Exception):
    """The `sessions:` section is wrong; the message names the key."""


@dataclass(frozen=True)
class SessionStoreSettings:
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "centralita:session:"


def parse_session_store(value: Any, where: str) -> SessionStoreSettings:
    """The section's settings, or SessionStoreConfigError naming `where` and the key."""
    if not isinstance(value, dict):
        raise SessionStoreConfigError(f"{where} must be a mapping")
    unknown = set(value) - {"store", "redis_url", "key_prefix"}
    if unknown:
        raise SessionStoreConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    defaults = SessionStoreSettings()
    store = value.get("store", defaults.store)
    if store not in ("memory", "redis"):
        raise SessionStoreConfigError(f"{where}.store must be memory or redis")
    url = value.get("redis_url", defaults.redis_url)
    if not isinstance(url, str) or urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise SessionStoreConfigError(
            f"{where}.redis_url must be a redis://, rediss:// or unix:// URL")
    prefix = value.get("key_prefix", defaults.key_prefix)
    if not isinstance(prefix, str) or not prefix:
        raise SessionStoreConfigError(f"{where}.key_prefix must be text")
    return SessionStoreSettings(store, url, prefix)
