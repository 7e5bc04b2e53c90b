"""Fixtures for login and roles: cheap argon2 parameters, a fake clock, and a real aiohttp
server running `web.app.build_app` with the case routes, on 127.0.0.1.

Users made by `desk`: root (admin), sam (supervisor), ana (agent), all with `PASSWORD`;
bearer tokens from the "config" for each role are in `TOKENS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from media.clock import FakeClock
from tests.helpers.databases import database_fixtures
from tests.helpers.webapp import start_app
from web.app import build_app
from web.auth import Auth, ConfigToken, ConfigTokens, Role
from web.auth.passwords import HashCost, PasswordHasher
from web.auth.sessions import SessionStore
from web.auth.store import UserStore
from web.auth.throttle import LoginThrottle
from web.auth.tokens import digest
from web.cases_api import add_case_routes

PASSWORD = "correct horse battery"
USERS = {"root": Role.ADMIN, "sam": Role.SUPERVISOR, "ana": Role.AGENT}
TOKENS = {role: f"ctk_config_{role.label}_" + "x" * 32 for role in Role}
# argon2id at its cheapest (1 pass, 1 MiB): the scheme is the same, tests stay fast.
CHEAP = HashCost(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    return PasswordHasher(CHEAP)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


pg_database, db_url = database_fixtures("centralita_auth", "auth.db")


@pytest.fixture
async def users(tmp_path: Path, hasher: PasswordHasher) -> AsyncIterator[UserStore]:
    store = await UserStore.open(f"sqlite:///{tmp_path}/desk.db", hasher=hasher)
    try:
        yield store
    finally:
        await store.close()


@dataclass
class Desk:
    """A running app: its base URL and the services behind it."""

    base: str
    auth: Auth
    cases: CaseStore
    bus: InProcessBus

    def url(self, path: str) -> str:
        return self.base + path

    async def login(
        self, http: aiohttp.ClientSession, user: str, password: str = PASSWORD
    ) -> str:
        """Log `http` in as `user`; the CSRF token."""
        async with http.post(
            self.url("/api/login"), json={"username": user, "password": password}
        ) as resp:
            body: dict[str, Any] = await resp.json()
            assert resp.status == 200, body
        return str(body["csrf"])


def make_auth(users: UserStore, clock: FakeClock) -> Auth:
    """The real auth over `users`, on `clock`, with a config token for each role (`TOKENS`)."""
    return Auth(
        users=users,
        sessions=SessionStore(clock.now),
        throttle=LoginThrottle(clock.now),
        config_tokens=ConfigTokens(
            ConfigToken(f"config-{role.label}", role, digest(token))
            for role, token in TOKENS.items()
        ),
    )


def bearer(role: Role) -> dict[str, str]:
    """Headers carrying the config token of `role`."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@pytest.fixture
async def desk(
    tmp_path: Path, users: UserStore, clock: FakeClock
) -> AsyncIterator[Desk]:
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    auth = make_auth(users, clock)
    bus = InProcessBus()
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/desk.db", bus=bus)
    app = build_app(lambda: {"http": True}, lambda: [{"call_id": "c1"}], auth)
    add_case_routes(app, cases, bus, heartbeat=5)
    runner, base = await start_app(app)
    try:
        yield Desk(base, auth, cases, bus)
    finally:
        await runner.cleanup()
        await cases.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client with a cookie jar that keeps cookies from 127.0.0.1 (browsers do)."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        yield session
