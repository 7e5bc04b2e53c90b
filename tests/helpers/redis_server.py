"""The local Redis server (127.0.0.1:6379) for tests: one random key prefix per test.

Each test's keys start with their own prefix and are deleted at its end, so tests run in
parallel (xdist) on one server. Without a reachable server the test is skipped, except
under CI=true, where it fails (CI always has Redis; a silent skip would hide the store).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from routing.redis_store import RedisRoutingStore

REDIS_URL = os.environ.get("CENTRALITA_TEST_REDIS", "redis://127.0.0.1:6379/0")


def new_prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


async def require_redis() -> None:
    """Skip (fail under CI=true) when nothing answers at REDIS_URL."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} unreachable under CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    finally:
        await client.aclose()


@asynccontextmanager
async def redis_stores(
    count: int = 1, **kwargs: Any
) -> AsyncIterator[tuple[list[RedisRoutingStore], Callable[..., RedisRoutingStore]]]:
    """`count` stores ("nodes", each its own connection and node id) on one fresh prefix,
    and a function that opens one more; every key under the prefix is deleted at the end."""
    await require_redis()
    prefix = new_prefix()
    opened: list[RedisRoutingStore] = []

    def open_one(**more: Any) -> RedisRoutingStore:
        store = RedisRoutingStore.from_url(REDIS_URL, prefix=prefix, **{**kwargs, **more})
        opened.append(store)
        return store

    stores = [open_one(node_id=f"node{i}") for i in range(count)]
    try:
        yield stores, open_one
    finally:
        cleaner = RedisRoutingStore.from_url(REDIS_URL, prefix=prefix)
        await cleaner.wipe()
        await cleaner.close()
        for store in opened:
            await store.close()
