"""Per-route API rate limits: a token bucket per (route prefix, caller), 429 with Retry-After.

    api_limits:
      routes:                                  # the longest matching prefix applies
        - {prefix: /api/login, rate: 5, burst: 60}
        - {prefix: /api/, rate: 50, burst: 500}

The caller is who the auth middleware identified (a user's session or a bearer token, so
one user's tabs share a budget and two users behind one NAT do not), else the client's
address for routes that need no login (the login itself, the chat widget's socket). The
middleware runs inside `web.auth.auth_middleware`, after the caller is known and before any
handler work. Behind a reverse proxy every anonymous caller has the proxy's address: give
the proxy's limits their own thought, or raise these.

These limits cap volume; they sit beside, not instead of, the login lockouts
(`web.auth.throttle`) and the chat widget's per-visitor line rate (`channels.chat`).
Time comes from the injected `now`; the table of callers is bounded.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from web.auth.http import json_error
from web.auth.service import PRINCIPAL

Now = Callable[[], float]


class RateLimitConfigError(ValueError):
    """An `api_limits` setting is wrong; the message names the key."""


@dataclass(frozen=True)
class RouteLimit:
    """`rate` requests a second per caller on paths under `prefix`, `burst` at once."""

    prefix: str
    rate: float
    burst: int


DEFAULT_ROUTES: tuple[RouteLimit, ...] = (
    # Volume only: wrong passwords are locked out by web.auth.throttle long before this.
    RouteLimit("/api/login", 5.0, 60),
    # One socket per visitor page; reconnects after a network change stay far below.
    RouteLimit("/api/chat/ws", 2.0, 20),
    # Everything else of the API: a busy desk or wallboard makes a few requests a second.
    RouteLimit("/api/", 50.0, 500),
)


@dataclass(frozen=True)
class ApiLimitSettings:
    enabled: bool = True
    routes: tuple[RouteLimit, ...] = DEFAULT_ROUTES
    # Callers remembered at once; the least recently seen one is forgotten first (which
    # hands it a full bucket: the bound is far above any real number of callers).
    max_callers: int = 50_000


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """The buckets of every (route, caller) and the decision for one request."""

    settings: ApiLimitSettings
    now: Now
    limited: int = 0  # requests refused so far
    _buckets: OrderedDict[tuple[str, str], _Bucket] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self._routes = sorted(self.settings.routes, key=lambda r: len(r.prefix), reverse=True)

    def route_of(self, path: str) -> RouteLimit | None:
        return next((r for r in self._routes if path.startswith(r.prefix)), None)

    def take(self, route: RouteLimit, caller: str) -> float:
        """0 when the request may go on, else the seconds until it could."""
        now = self.now()
        key = (route.prefix, caller)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(route.burst), now)
            if len(self._buckets) > self.settings.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(route.burst), bucket.tokens + (now - bucket.at) * route.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        self.limited += 1
        return (1.0 - bucket.tokens) / route.rate


def _caller(request: web.Request) -> str:
    principal = request.get(PRINCIPAL)
    if principal is not None:
        return "p:" + str(principal.name)
    return "a:" + (request.remote or "unknown")


def rate_limit_middleware(limiter: RateLimiter) -> Middleware:
    """The middleware; add it after `auth_middleware` (inside it)."""

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = limiter.route_of(request.path)
        if route is None:
            return await handler(request)
        wait = limiter.take(route, _caller(request))
        if wait > 0:
            return json_error(
                429, "rate_limited", "too many requests; slow down",
                headers={hdrs.RETRY_AFTER: str(max(1, math.ceil(wait)))},
            )
        return await handler(request)

    return rate_limit


# -- the settings section ---------------------------------------------------------------------------
def parse_api_limits(value: Any, where: str) -> ApiLimitSettings:
    """`api_limits: {enabled, routes: [{prefix, rate, burst}], max_callers}`; `routes`
    replaces the defaults whole."""
    if not isinstance(value, dict):
        raise RateLimitConfigError(f"{where} must be a mapping")
    unknown = set(value) - {"enabled", "routes", "max_callers"}
    if unknown:
        raise RateLimitConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RateLimitConfigError(f"{where}.enabled must be true or false")
    max_callers = value.get("max_callers", ApiLimitSettings.max_callers)
    if isinstance(max_callers, bool) or not isinstance(max_callers, int) or max_callers < 100:
        raise RateLimitConfigError(f"{where}.max_callers must be a whole number >= 100")
    raw = value.get("routes")
    if raw is None:
        return ApiLimitSettings(enabled, DEFAULT_ROUTES, max_callers)
    if not isinstance(raw, list):
        raise RateLimitConfigError(f"{where}.routes must be a list of {{prefix, rate, burst}}")
    routes = []
    for i, entry in enumerate(raw):
        at = f"{where}.routes[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"prefix", "rate", "burst"}:
            raise RateLimitConfigError(f"{at} must have exactly prefix, rate and burst")
        prefix, rate, burst = entry["prefix"], entry["rate"], entry["burst"]
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise RateLimitConfigError(f"{at}.prefix must be a path starting with /")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
            raise RateLimitConfigError(f"{at}.rate must be a number of requests a second > 0")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise RateLimitConfigError(f"{at}.burst must be a whole number >= 1")
        routes.append(RouteLimit(prefix, float(rate), burst))
    if len({r.prefix for r in routes}) != len(routes):
        raise RateLimitConfigError(f"{where}.routes: a prefix is listed twice")
    return ApiLimitSettings(enabled, tuple(routes), max_callers)
