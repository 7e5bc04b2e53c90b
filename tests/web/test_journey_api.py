"""`GET /api/journey` on a real aiohttp server with the real auth and a real case store:
supervisors only, the period and queue filters, bad parameters named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from cases.events import InProcessBus
from cases.store import CaseStore
from media.clock import FakeClock
from tests.cases.test_journey import T0, SetClock, fill
from tests.helpers.webapp import start_app
from tests.web.conftest import PASSWORD, make_auth
from web.app import build_app
from web.auth import Role
from web.auth.store import UserStore
from web.case_access import CaseAccess
from web.cases_api import add_case_routes
from web.journey_api import add_journey_routes

ROLES = {"sam": Role.SUPERVISOR, "ana": Role.AGENT}


async def test_the_journey_api_is_for_supervisors(tmp_path: Path, users: UserStore) -> None:
    for name, role in ROLES.items():
        await users.add_user(name, PASSWORD, role)
    clock = SetClock()
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/cases.db", now=clock,
                                 bus=InProcessBus(), default_region="ES")
    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    bus = InProcessBus()
    add_case_routes(app, cases, bus, access=CaseAccess(cases))
    add_journey_routes(app)
    await fill(cases, clock)
    runner, base = await start_app(app, access_log=None)
    try:
        async def get(user: str, query: str) -> tuple[int, dict[str, Any]]:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.post(base + "/api/login",
                                     json={"username": user, "password": PASSWORD}) as r:
                    assert r.status == 200
                async with http.get(base + "/api/journey" + query) as r:
                    return r.status, await r.json()

        status, body = await get("sam", "?queue=sales&since=2026-03-02T09:00:00Z")
        assert status == 200, body
        assert body["period"] == {"since": "2026-03-02T09:00:00+00:00", "until": None}
        assert (body["queue"], body["cases"], body["contacts"]) == ("sales", 1, 1)
        status, body = await get("sam", f"?until={T0.timestamp() + 600:.0f}")
        assert status == 200 and body["cases"] == 1, body
        assert (await get("ana", ""))[0] == 403
        for query, where in [("?since=yesterday", "query.since"),
                             ("?since=2026-03-02T09:00:00", "query.since"),
                             ("?since=10&until=5", "query.until"),
                             ("?until=nan", "query.until"),
                             ("?queue=no%20spaces", "query.queue")]:
            status, body = await get("sam", query)
            assert status == 400 and body["error"]["where"] == where, (query, body)
    finally:
        await runner.cleanup()
        await cases.close()
