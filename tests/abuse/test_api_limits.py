"""Per-route API rate limits (`web.ratelimit`): the bucket logic on a fake clock, the config
section, and a real in-process server: 429 with Retry-After past a route's budget, counted
per caller (a logged-in principal, else the client address), the longest prefix winning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from centralita.server import Server
from centralita.settings import ConfigError, load_settings
from tests.web.conftest import bearer
from tests.web.test_hardening_headers import assert_secured
from tests.web.test_hardening_json import base_of, in_process_settings
from web.auth import Role
from web.ratelimit import (
    DEFAULT_ROUTES,
    ApiLimitSettings,
    RateLimitConfigError,
    RateLimiter,
    RouteLimit,
    parse_api_limits,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 50.0

    def now(self) -> float:
        return self.t


def test_bucket_refill_and_longest_prefix() -> None:
    clock = FakeClock()
    limiter = RateLimiter(ApiLimitSettings(routes=(
        RouteLimit("/api/", 10.0, 3), RouteLimit("/api/login", 0.5, 2))), clock.now)
    login = limiter.route_of("/api/login")
    api = limiter.route_of("/api/cases/1")
    assert login is not None and login.prefix == "/api/login"
    assert api is not None and api.prefix == "/api/"
    assert limiter.route_of("/healthz") is None
    assert [limiter.take(login, "a:1.2.3.4") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take(login, "a:1.2.3.4") == pytest.approx(2.0)  # 1 token at 0.5/s
    assert limiter.take(login, "a:1.2.3.5") == 0.0  # another caller
    assert limiter.take(api, "a:1.2.3.4") == 0.0    # another route
    clock.t += 2.0
    assert limiter.take(login, "a:1.2.3.4") == 0.0
    assert limiter.limited == 1


def test_the_table_of_callers_is_bounded() -> None:
    limiter = RateLimiter(ApiLimitSettings(max_callers=100), FakeClock().now)
    route = DEFAULT_ROUTES[-1]
    for i in range(1000):
        limiter.take(route, f"a:{i}")
    assert len(limiter._buckets) == 100


def test_config_section(tmp_path: Path) -> None:
    assert load_settings(None, {}).api_limits.routes == DEFAULT_ROUTES
    s = parse_api_limits({"routes": [{"prefix": "/api/cases", "rate": 1, "burst": 2}]}, "x")
    assert s.routes == (RouteLimit("/api/cases", 1.0, 2),) and s.enabled
    for bad, message in (
        ({"routes": [{"prefix": "api", "rate": 1, "burst": 1}]}, r"routes\[0\]\.prefix"),
        ({"routes": [{"prefix": "/a", "rate": 0, "burst": 1}]}, r"routes\[0\]\.rate"),
        ({"routes": [{"prefix": "/a", "rate": 1}]}, r"routes\[0\] must have exactly"),
        ({"routes": [{"prefix": "/a", "rate": 1, "burst": 1}] * 2}, "listed twice"),
        ({"limit": 1}, "unknown key 'limit'"),
    ):
        with pytest.raises(RateLimitConfigError, match=message):
            parse_api_limits(bad, "x")
    config = tmp_path / "c.yaml"
    config.write_text("api_limits:\n  routes: [{prefix: /api/, rate: -1, burst: 3}]\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: api_limits\.routes\[0\]\.rate"):
        load_settings(config, {})


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    limits = ApiLimitSettings(routes=(
        RouteLimit("/api/me", 0.2, 5), RouteLimit("/api/login", 0.2, 3),
        RouteLimit("/api/", 100.0, 1000)))
    running = Server(in_process_settings(tmp_path, api_limits=limits))
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


async def test_a_route_budget_is_per_caller_and_answers_429_with_retry_after(
    server: Server,
) -> None:
    base = base_of(server)
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(7):
            async with http.get(base + "/api/me", headers=bearer(Role.AGENT)) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    refused = resp
                    body = await resp.json()
        assert statuses == [200] * 5 + [429] * 2
        assert body["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 5
        assert_secured(refused, "429")
        # Another principal has a budget of its own; another route is not touched.
        async with http.get(base + "/api/me", headers=bearer(Role.ADMIN)) as resp:
            assert resp.status == 200
        async with http.get(base + "/api/queues", headers=bearer(Role.AGENT)) as resp:
            assert resp.status == 200
        # Anonymous routes count per client address.
        logins = []
        for _ in range(5):
            async with http.post(base + "/api/login",
                                 json={"username": "nobody", "password": "x"}) as resp:
                logins.append(resp.status)
        assert logins[:3] == [401] * 3 and logins[3:] == [429, 429]
        # Routes outside every prefix are never limited.
        for _ in range(20):
            async with http.get(base + "/healthz") as resp:
                assert resp.status == 200
