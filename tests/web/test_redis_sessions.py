"""Login sessions in Redis: what a store writes, a new store (a restarted server) reads back
with the same rules; and a real server restarted with `sessions: {store: redis}` keeps a
logged-in browser logged in (with the memory store the same browser is logged out)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from tests.helpers.server import ServerOptions, ServerProcess
from web.auth.http import SESSION_COOKIE
from web.auth.redis_sessions import RedisSessionStore
from web.auth.roles import Role
from web.auth.sessions import SessionPolicy
from web.auth.tokens import digest


class Clocks:
    """A monotonic clock and a wall clock that move together, only when told; a restarted
    process gets a monotonic clock starting elsewhere (`restart`)."""

    def __init__(self) -> None:
        self.mono = 500.0
        self.wall = 1_700_000_000.0

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def restart(self) -> None:
        self.mono = 7.0


POLICY = SessionPolicy(idle_timeout=3600.0, max_age=7200.0)


async def open_store(clocks: Clocks, prefix: str) -> RedisSessionStore:
    return await RedisSessionStore.open(REDIS_URL, lambda: clocks.mono, POLICY, prefix=prefix,
                                        wall=lambda: clocks.wall, touch_every=60.0)


async def test_sessions_come_back_after_a_restart_with_the_same_rules() -> None:
    await require_redis()
    prefix, clocks = new_prefix(), Clocks()
    first = await open_store(clocks, prefix)
    try:
        version = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        ana_id, ana = first.create("ana", Role.AGENT, version)
        sam_id, _ = first.create("sam", Role.SUPERVISOR)
        gone_id, _ = first.create("bob", Role.AGENT)
        first.revoke(gone_id)
        clocks.advance(1000.0)
        assert first.get(sam_id) is not None  # idle timer restarted (written: > 60 s)
        await first.close()
        # Only the ids' digests are keys: no cookie value appears in Redis.
        assert sorted(await _keys(prefix)) == sorted(
            prefix + digest(i) for i in (ana_id, sam_id))

        clocks.advance(2000.0)  # ana idle 3000 s, sam 2000 s: both live
        clocks.restart()
        second = await open_store(clocks, prefix)
        assert len(second) == 2
        got = second.get(ana_id)  # her idle timer restarts (and is written)
        assert got is not None
        assert (got.user, got.role, got.csrf, got.user_version) == (
            "ana", Role.AGENT, ana.csrf, version)
        assert second.get(gone_id) is None
        clocks.advance(1700.0)  # sam now idle 3700 s, past the 3600 s timeout
        await second.close()

        clocks.restart()
        third = await open_store(clocks, prefix)
        assert third.get(sam_id) is None  # not brought back
        assert third.get(ana_id) is not None  # idle 1700 s, 4700 s old
        clocks.advance(2000.0)
        assert third.get(ana_id) is not None  # 6700 s old
        clocks.advance(1000.0)
        assert third.get(ana_id) is None  # 7700 s old: past the maximum age
        await third.flush()
        assert await _keys(prefix) == []
        await third.close()
    finally:
        await _wipe(prefix)


async def test_a_login_made_on_one_node_is_found_and_ended_on_another() -> None:
    await require_redis()
    prefix, clocks = new_prefix(), Clocks()
    a, b = await open_store(clocks, prefix), await open_store(clocks, prefix)
    try:
        ana_id, _ = a.create("ana", Role.AGENT)
        await a.flush()
        assert b.get(ana_id) is None  # not in B's memory...
        found = await b.fetch(ana_id)  # ...but in Redis
        assert found is not None and found.user == "ana"
        a.revoke(ana_id)  # logout through A
        await a.flush()
        clocks.advance(5.0)
        assert await b.fetch(ana_id) is not None  # checked against Redis every 10 s
        clocks.advance(6.0)
        assert await b.fetch(ana_id) is None  # ended here too
        assert b.get(ana_id) is None
        assert await b.fetch("never-issued") is None
    finally:
        await a.close()
        await b.close()
        await _wipe(prefix)


async def test_revoke_user_and_redis_expiry() -> None:
    await require_redis()
    prefix, clocks = new_prefix(), Clocks()
    store = await open_store(clocks, prefix)
    try:
        one, _ = store.create("ana", Role.AGENT)
        two, _ = store.create("ana", Role.AGENT)
        other, _ = store.create("sam", Role.SUPERVISOR)
        await store.flush()
        ttl = await store.redis.pttl(prefix + digest(other))
        assert 0 < ttl <= 3600 * 1000  # Redis drops it at its idle timeout if nobody ends it
        stored = await store.redis.get(prefix + digest(other))
        assert isinstance(stored, bytes) and other.encode() not in stored
        assert store.revoke_user("ana") == 2
        await store.flush()
        assert await store.redis.exists(prefix + digest(one), prefix + digest(two)) == 0
        await store.close()
        again = await open_store(clocks, prefix)
        assert (again.get(one), again.get(two)) == (None, None)
        assert again.get(other) is not None
        await again.close()
    finally:
        await _wipe(prefix)


async def _keys(prefix: str) -> list[str]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    found = [k.decode() async for k in client.scan_iter(match=prefix + "*")]
    await client.aclose()
    return found


async def _wipe(prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    await client.aclose()


async def login_then_restart(tmp_path: Path, store: str) -> int:
    """Log in as the admin, restart the server, present the same cookie: the status."""
    await require_redis()
    prefix = new_prefix()
    workdir = tmp_path / store
    workdir.mkdir()
    server = ServerProcess(workdir, ServerOptions(tls=False, config={
        "sessions": {"store": store, "redis_url": REDIS_URL, "key_prefix": prefix}}))
    try:
        await server.start()
        password = (server.data_dir / "admin-password").read_text().strip()
        base = f"http://127.0.0.1:{server.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/api/login",
                                 json={"username": "admin", "password": password}) as resp:
                assert resp.status == 200, await resp.text()
                cookie = {"Cookie": f"{SESSION_COOKIE}={resp.cookies[SESSION_COOKIE].value}"}
            async with http.get(base + "/api/me", headers=cookie) as resp:
                assert resp.status == 200 and (await resp.json())["user"] == "admin"
            await server.stop()
            await server.start()
            async with http.get(base + "/api/me", headers=cookie) as resp:
                if resp.status == 200:
                    assert (await resp.json())["user"] == "admin"
                return resp.status
    finally:
        await server.stop()
        await _wipe(prefix)


@pytest.mark.slow
async def test_a_restart_keeps_a_browser_logged_in_with_redis_sessions(tmp_path: Path) -> None:
    assert await login_then_restart(tmp_path, "redis") == 200


@pytest.mark.slow
async def test_with_memory_sessions_a_restart_logs_the_browser_out(tmp_path: Path) -> None:
    assert await login_then_restart(tmp_path, "memory") == 401
