"""What the `routing:` and `sessions:` sections share: `store: memory|redis`, the Redis URL
and the key prefix, checked the same way with errors naming the section's key."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal, cast
from urllib.parse import urlsplit

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
StoreKind = Literal["memory", "redis"]


def parse_store_section(
    value: Any, where: str, *, keys: Collection[str], default_prefix: str,
    error: type[Exception],
) -> tuple[StoreKind, str, str]:
    """(store, redis_url, key_prefix) of a section whose allowed keys are `keys`; `error`
    (naming `where` and the key) when the section or one of these three is wrong."""
    if not isinstance(value, dict):
        raise error(f"{where} must be a mapping")
    unknown = set(value) - set(keys)
    if unknown:
        raise error(f"{where}: unknown key {sorted(unknown)[0]!r}")
    store = value.get("store", "memory")
    if store not in ("memory", "redis"):
        raise error(f"{where}.store must be memory or redis")
    url = value.get("redis_url", DEFAULT_REDIS_URL)
    if not isinstance(url, str) or urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise error(f"{where}.redis_url must be a redis://, rediss:// or unix:// URL")
    prefix = value.get("key_prefix", default_prefix)
    if not isinstance(prefix, str) or not prefix:
        raise error(f"{where}.key_prefix must be text")
    return cast(StoreKind, store), url, prefix
