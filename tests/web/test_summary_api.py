"""The summary and facts API on a real aiohttp server with the real auth and logins: the
handling agent reads and edits, a foreign agent gets 404 (as for no case), bad bodies get a
400 naming the field, edits are masked and survive the summary being remade."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from media.clock import FakeClock
from tests.helpers.databases import database_fixtures
from tests.helpers.webapp import start_app
from tests.web.conftest import PASSWORD, make_auth
from web.app import build_app
from web.auth import Role
from web.auth.store import UserStore
from web.case_access import CaseAccess
from web.cases_api import add_case_routes
from web.summary_api import add_summary_routes

ROLES = {"ana": Role.AGENT, "bo": Role.AGENT}
pg_database, db_url = database_fixtures("centralita_summary_api", "cases.db")


@dataclass
class Server:
    base: str
    cases: CaseStore
    case_id: int
    public_id: str
    interaction_id: int
    other_interaction_id: int  # on bo's case


@pytest.fixture
async def server(db_url: str, users: UserStore) -> AsyncIterator[Server]:
    for name, role in ROLES.items():
        await users.add_user(name, PASSWORD, role)
    auth = make_auth(users, FakeClock(1000.0))
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus,
                                 default_region="ES")
    app = build_app(lambda: {"http": True}, None, auth)
    add_case_routes(app, cases, bus, access=CaseAccess(cases))
    add_summary_routes(app)
    ref = await cases.start_voice_interaction(caller="+34600111222", call_id="call-ana")
    await cases.set_interaction_agent("call-ana", "ana")
    await cases.add_ivr_event(ref.interaction_id, kind="digits", step="ask_order",
                              value={"digits": "456", "outcome": "match",
                                     "variable": "order_number"})
    await cases.add_segment(ref.interaction_id, speaker="caller", start=1.0, end=5.0,
                            text="My parcel never arrived and I paid twenty euros.",
                            confidence=0.9, engine="test")
    await cases.end_interaction(ref.interaction_id, outcome="completed")
    other = await cases.start_voice_interaction(caller="+34600999888", call_id="call-bo")
    await cases.set_interaction_agent("call-bo", "bo")
    runner, base = await start_app(app, access_log=None)
    try:
        yield Server(base, cases, ref.case_id, await cases.public_id(ref.case_id),
                     ref.interaction_id, other.interaction_id)
    finally:
        await runner.cleanup()
        await cases.close()


async def login(server: Server, user: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=10))
    async with http.post(server.base + "/api/login",
                         json={"username": user, "password": PASSWORD}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    return http, str(body["csrf"])


async def call(http: aiohttp.ClientSession, csrf: str, method: str, url: str,
               body: Any = None, raw: str | None = None) -> tuple[int, Any]:
    headers = {"X-CSRF-Token": csrf}
    if raw is not None:
        headers["Content-Type"] = "application/json"
        async with http.request(method, url, data=raw, headers=headers) as resp:
            return resp.status, await resp.json()
    async with http.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_agent_reads_facts_and_summary_and_edits_it(server: Server) -> None:
    http, csrf = await login(server, "ana")
    base = f"{server.base}/api/cases/{server.public_id}"
    summary_url = f"{base}/interactions/{server.interaction_id}/summary"
    try:
        status, body = await call(http, csrf, "GET", f"{base}/facts")
        assert status == 200
        assert {(f["key"], f["value"]) for f in body["facts"]} == {
            ("order_number", "456"), ("amount", "20.00 EUR")}
        status, body = await call(http, csrf, "GET", summary_url)
        assert status == 200 and "order 456" in body["summary"]["text"]
        assert body["summary"]["edited"] is None
        edit = {"text": "Parcel 456 lost; card 4111 1111 1111 1111 refunded.",
                "next_steps": ["Call back Monday"]}
        status, body = await call(http, csrf, "PUT", summary_url, edit)
        assert status == 200, body
        edited = body["summary"]
        assert edited["text"] == "Parcel 456 lost; card ***1111 refunded."
        assert edited["next_steps"] == ["Call back Monday"]
        assert edited["edited"]["by"] == "ana" and edited["edited"]["fields"] == [
            "text", "next_steps"]
        # The wrap-up remakes the summary: the agent's text stays, the disposition comes in.
        await server.cases.add_note(server.case_id, author="ana",
                                    text="Disposition: refund.\nSent a new parcel.")
        status, body = await call(http, csrf, "GET", summary_url)
        assert body["summary"]["text"] == edited["text"]
        assert body["summary"]["actions"]["disposition"] == "refund"
        assert body["summary"]["outcome"] == "refund"
        status, case = await call(http, csrf, "GET", base)
        assert case["summary"]["text"] == edited["text"]
        assert case["interactions"][0]["summary"] == edited["text"]
        assert [f["key"] for f in case["facts"]] == ["order_number", "amount"]
    finally:
        await http.close()


async def test_a_foreign_agent_is_refused(server: Server) -> None:
    http, csrf = await login(server, "bo")
    base = f"{server.base}/api/cases/{server.public_id}"
    try:
        for method, path, body in [
            ("GET", "/facts", None),
            ("GET", f"/interactions/{server.interaction_id}/summary", None),
            ("PUT", f"/interactions/{server.interaction_id}/summary", {"text": "mine now"}),
        ]:
            status, answer = await call(http, csrf, method, base + path, body)
            assert status == 404 and answer["error"]["code"] == "not_found", (method, path)
    finally:
        await http.close()
    summary = await server.cases.interaction_summary(server.case_id, server.interaction_id)
    assert summary is not None and summary["text"] != "mine now"


@pytest.mark.parametrize(("body", "where"), [
    ({}, "body"),
    ({"text": ""}, "text"),
    ({"text": 5}, "text"),
    ({"text": "x" * 4001}, "text"),
    ({"next_steps": "call"}, "next_steps"),
    ({"next_steps": ["ok", ""]}, "next_steps[1]"),
    ({"outcome": ["x"]}, "outcome"),
    ({"summary": "x"}, "summary"),
])
async def test_bad_edits_say_where(server: Server, body: dict[str, Any], where: str) -> None:
    http, csrf = await login(server, "ana")
    url = (f"{server.base}/api/cases/{server.public_id}/interactions/"
           f"{server.interaction_id}/summary")
    try:
        status, answer = await call(http, csrf, "PUT", url, body)
    finally:
        await http.close()
    assert status == 400 and answer["error"]["where"] == where, answer


async def test_bad_ids_and_bodies(server: Server) -> None:
    http, csrf = await login(server, "ana")
    base = f"{server.base}/api/cases/{server.public_id}/interactions"
    try:
        status, answer = await call(http, csrf, "PUT", f"{base}/abc/summary", {"text": "x"})
        assert status == 400 and answer["error"]["where"] == "iid"
        # An interaction of another case is not found through this one.
        status, answer = await call(http, csrf, "PUT",
                                    f"{base}/{server.other_interaction_id}/summary",
                                    {"text": "x"})
        assert status == 404
        status, answer = await call(http, csrf, "PUT", f"{base}/{server.interaction_id}/summary",
                                    raw="{not json")
        assert status == 400 and answer["error"]["code"]
        status, answer = await call(http, csrf, "PUT", f"{base}/{server.interaction_id}/summary",
                                    raw="[1, 2]")
        assert status == 400
    finally:
        await http.close()
