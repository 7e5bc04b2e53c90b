"""Who reads which case (`web.case_access`), and case-live sockets that outlive their login,
on a real aiohttp server with the real auth, real logins and real WebSocket clients.

Users: root (admin), sam (supervisor of team "front": ana), sue (supervisor of team "back":
bo), ana and bo (agents). The case is ana's: she took its call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from centralita.desk import DeskHub
from centralita.settings import ConfigError, load_settings
from media.clock import FakeClock
from media.ticker import MediaTicker
from routing.channels import Offer
from routing.config import TeamConfig, parse_routing
from routing.model import InvalidConfig
from tests.helpers.databases import database_fixtures
from tests.helpers.webapp import start_app
from tests.routing.acd_rig import Factory, agent, make_rig, queue
from tests.web.conftest import PASSWORD, make_auth
from web.app import build_app
from web.auth import Auth, Role
from web.auth.store import UserStore
from web.case_access import CaseAccess, Teams
from web.cases_api import add_case_routes

TEAMS = Teams.from_config([TeamConfig("front", ("sam",), ("ana",)),
                           TeamConfig("back", ("sue",), ("bo",))])
ROLES = {"root": Role.ADMIN, "sam": Role.SUPERVISOR, "sue": Role.SUPERVISOR,
         "ana": Role.AGENT, "bo": Role.AGENT}
CLOSE_WITHIN_S = 5.0
pg_database, db_url = database_fixtures("centralita_case_access", "cases.db")
__all__ = ["make_rig"]  # the ACD rig's fixture, for the hub's test


@dataclass
class FakeLive:
    """`LiveCases` as a test sets it: the cases offered to each agent now."""

    offers: dict[str, set[int]] = field(default_factory=dict)

    def live_cases(self, agent_id: str) -> Collection[int]:
        return self.offers.get(agent_id, set())

    def live_agents(self, case_id: int) -> Collection[str]:
        return {a for a, cases in self.offers.items() if case_id in cases}


@dataclass
class Server:
    base: str
    auth: Auth
    users: UserStore
    cases: CaseStore
    access: CaseAccess
    live: FakeLive
    case_id: int  # ana's case
    public_id: str
    shift: list[timedelta]  # how far the access clock is ahead of the wall clock

    def url(self, path: str) -> str:
        return self.base + path

    def ws_url(self, path: str) -> str:
        return "ws" + self.base.removeprefix("http") + path


@pytest.fixture
async def server(db_url: str, users: UserStore) -> AsyncIterator[Server]:
    for name, role in ROLES.items():
        await users.add_user(name, PASSWORD, role)
    auth = make_auth(users, FakeClock(1000.0))
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    live = FakeLive()
    shift = [timedelta(0)]
    access = CaseAccess(cases, teams=TEAMS, live=live, recent_window=3600,
                        now=lambda: datetime.now(UTC) + shift[0])
    app = build_app(lambda: {"http": True}, None, auth)
    add_case_routes(app, cases, bus, heartbeat=5, access=access, recheck=0.5)
    ref = await cases.start_voice_interaction(caller="+34600111222", call_id="call-ana")
    assert await cases.set_interaction_agent("call-ana", "ana") == ref.case_id
    runner, base = await start_app(app, access_log=None)
    try:
        yield Server(base, auth, users, cases, access, live, ref.case_id,
                     await cases.public_id(ref.case_id), shift)
    finally:
        await runner.cleanup()
        await cases.close()


@pytest.fixture
async def sessions() -> AsyncIterator[dict[str, aiohttp.ClientSession]]:
    """A logged-out browser per user (own cookie jar); `login` fills it."""
    made: dict[str, aiohttp.ClientSession] = {}
    for name in ROLES:
        made[name] = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=10))
    try:
        yield made
    finally:
        for http in made.values():
            await http.close()


async def login(server: Server, http: aiohttp.ClientSession, user: str) -> str:
    async with http.post(server.url("/api/login"),
                         json={"username": user, "password": PASSWORD}) as resp:
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, body
    return str(body["csrf"])


async def get_case(server: Server, http: aiohttp.ClientSession) -> tuple[int, Any]:
    async with http.get(server.url(f"/api/cases/{server.public_id}")) as resp:
        return resp.status, await resp.json()


async def live_status(server: Server, http: aiohttp.ClientSession) -> int:
    """200 when the live socket opens with a snapshot of the case, else the handshake's."""
    try:
        ws = await http.ws_connect(server.ws_url(f"/api/cases/{server.public_id}/live"))
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    async with ws:
        snapshot = await ws.receive_json(timeout=10)
        assert snapshot["type"] == "snapshot"
        assert snapshot["timeline"]["case"]["id"] == server.public_id
    return 200


async def test_an_unrelated_agent_gets_404_while_the_handling_agent_reads_it(
    server: Server, sessions: dict[str, aiohttp.ClientSession]
) -> None:
    ana, bo = sessions["ana"], sessions["bo"]
    await login(server, ana, "ana")
    await login(server, bo, "bo")
    status, body = await get_case(server, ana)
    assert status == 200 and body["interactions"][0]["agent"] == "ana"
    assert await live_status(server, ana) == 200
    # bo gets what a case that does not exist gets: no oracle.
    status, refused = await get_case(server, bo)
    async with bo.get(server.url("/api/cases/AAAAAAAAAAAAAAAA")) as resp:
        unknown = await resp.json()
    assert status == 404
    assert refused["error"]["code"] == unknown["error"]["code"] == "not_found"
    assert await live_status(server, bo) == 404
    async with bo.get(server.url("/api/calls/call-ana/case")) as resp:
        assert resp.status == 404
    async with ana.get(server.url("/api/calls/call-ana/case")) as resp:
        assert resp.status == 200 and await resp.json() == {"case_id": server.public_id}


async def test_supervisors_read_their_teams_cases_and_admins_all(
    server: Server, sessions: dict[str, aiohttp.ClientSession]
) -> None:
    for name in ("sam", "sue", "root"):
        await login(server, sessions[name], name)
    assert (await get_case(server, sessions["sam"]))[0] == 200
    assert await live_status(server, sessions["sam"]) == 200
    assert (await get_case(server, sessions["root"]))[0] == 200
    assert await live_status(server, sessions["root"]) == 200
    # A supervisor outside the team is told so (403), REST and socket.
    status, body = await get_case(server, sessions["sue"])
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert await live_status(server, sessions["sue"]) == 403
    # With no teams configured, supervisors see every case.
    server.access.teams = Teams()
    assert (await get_case(server, sessions["sue"]))[0] == 200


async def test_an_offer_opens_the_case_and_contacts_expire_after_the_window(
    server: Server, sessions: dict[str, aiohttp.ClientSession]
) -> None:
    ana, bo = sessions["ana"], sessions["bo"]
    await login(server, ana, "ana")
    await login(server, bo, "bo")
    # A call of this case rings for bo: he sees it (the screen pop), and bo's supervisor too.
    server.live.offers["bo"] = {server.case_id}
    assert (await get_case(server, bo))[0] == 200
    await login(server, sessions["sue"], "sue")
    assert (await get_case(server, sessions["sue"]))[0] == 200
    server.live.offers.clear()
    assert (await get_case(server, bo))[0] == 404
    # ana's call is still going on: hers however long it lasts; once it ended, for the window.
    server.shift[0] = timedelta(hours=30)
    assert (await get_case(server, ana))[0] == 200
    interaction = (await server.cases.find_interaction_by_call("call-ana"))
    assert interaction is not None
    await server.cases.end_interaction(interaction[0], outcome="answered")
    server.shift[0] = timedelta(minutes=59)
    assert (await get_case(server, ana))[0] == 200
    server.shift[0] = timedelta(minutes=61)
    assert (await get_case(server, ana))[0] == 404
    # Her supervisor keeps the team's history.
    await login(server, sessions["sam"], "sam")
    assert (await get_case(server, sessions["sam"]))[0] == 200


async def shares_call(
    server: Server, http: aiohttp.ClientSession, csrf: str, method: str, path: str = "",
    body: Any = None,
) -> tuple[int, Any]:
    url = server.url(f"/api/cases/{server.public_id}/shares{path}")
    async with http.request(method, url, json=body, headers={"X-CSRF-Token": csrf}) as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json"
                             else None)


async def test_a_case_shared_with_a_colleague_opens_to_them_until_withdrawn(
    server: Server, sessions: dict[str, aiohttp.ClientSession]
) -> None:
    ana, bo, sue = sessions["ana"], sessions["bo"], sessions["sue"]
    ana_csrf = await login(server, ana, "ana")
    bo_csrf = await login(server, bo, "bo")
    await login(server, sue, "sue")
    assert (await get_case(server, bo))[0] == 404
    # bo cannot share himself in: sharing needs the case first.
    assert (await shares_call(server, bo, bo_csrf, "POST", body={"user": "bo"}))[0] == 404
    # Nobody can be shared with a user that does not exist.
    status, body = await shares_call(server, ana, ana_csrf, "POST", body={"user": "ghost"})
    assert status == 400 and body["error"]["where"] == "user"
    status, body = await shares_call(server, ana, ana_csrf, "POST", body={"user": "bo"})
    assert status == 201 and body["user"] == "bo" and body["shared_by"] == "ana"
    assert (await shares_call(server, ana, ana_csrf, "POST", body={"user": "bo"}))[0] == 200
    # bo reads it, REST and live, and so does his supervisor (outside ana's team); for as
    # long as the share stands, past the recent window.
    server.shift[0] = timedelta(days=3)
    assert (await get_case(server, bo))[0] == 200
    assert await live_status(server, bo) == 200
    assert (await get_case(server, sue))[0] == 200
    status, body = await shares_call(server, bo, bo_csrf, "GET")
    assert status == 200 and [s["user"] for s in body["shares"]] == ["bo"]
    # Withdrawn (by its user here), the case is closed to him again.
    assert (await shares_call(server, bo, bo_csrf, "DELETE", "/bo"))[0] == 204
    assert (await get_case(server, bo))[0] == 404
    assert (await get_case(server, sue))[0] == 403


# --- finding 5: a case-live socket closes with 4401 soon after its login ends ---------------


async def end_login(server: Server, http: aiohttp.ClientSession, how: str, csrf: str) -> None:
    if how == "logout":
        async with http.post(server.url("/api/logout"), headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 204
    elif how == "disabled":
        # As `centralita users` in another process would: only the stored record changes.
        await server.users.update_user("ana", disabled=True)
    else:
        await server.users.delete_token("ana")


@pytest.mark.parametrize("how", ["logout", "disabled", "token"])
async def test_a_live_socket_closes_4401_once_its_login_ends_without_the_client_sending(
    server: Server, sessions: dict[str, aiohttp.ClientSession], how: str
) -> None:
    http = sessions["ana"]
    path = f"/api/cases/{server.public_id}/live"
    csrf = ""
    if how == "token":
        _, token = await server.users.add_token("ana", Role.AGENT, "root")
        path += f"?access_token={token}"
    else:
        csrf = await login(server, http, "ana")
    ws = await http.ws_connect(server.ws_url(path))
    assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
    await end_login(server, http, how, csrf)
    ended = asyncio.get_running_loop().time()
    # One deadline: receive()'s own timeout restarts at every ping.
    async with asyncio.timeout(CLOSE_WITHIN_S + 5):
        msg = await ws.receive()
    took = asyncio.get_running_loop().time() - ended
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401, msg
    assert took < CLOSE_WITHIN_S, took
    # And nothing published on the case reaches it any more.
    interaction = await server.cases.find_interaction_by_call("call-ana")
    assert interaction is not None
    await server.cases.add_segment(interaction[0], speaker="caller", start=0, end=1,
                                   text="secret", confidence=None, engine="t")
    after = await ws.receive(timeout=2)
    assert after.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE), after
    await ws.close()


# --- the desk hub: live offers open the case, the desk sees only public ids ------------------


class Link:
    """An open desk that keeps what it is sent."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def test_the_hub_tells_who_is_offered_a_case_and_desks_see_its_public_id(
    make_rig: Factory, db_url: str
) -> None:
    cases = await CaseStore.open(db_url)
    rig = await make_rig([queue("help")], [agent("a1", "help")])
    hub = DeskHub(rig.acd, rig.admin, ticker=MediaTicker(), cases=cases, host_addresses=None)
    try:
        ref = await cases.start_voice_interaction(caller="+15550100", call_id="call-1")
        link = Link("a1")
        await hub.connect(link)
        assert not hub.live_cases("a1")
        ringing = asyncio.ensure_future(hub.ring_agent(
            rig.acd.agents["a1"], Offer("call", "call-1", "help", "+15550100", ref.case_id),
            ring_timeout=30, for_call=None))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any(m["type"] == "offer" for m in link.sent):
                break
        [offer] = [m for m in link.sent if m["type"] == "offer"]
        assert offer["case_id"] == await cases.public_id(ref.case_id)
        assert set(hub.live_cases("a1")) == {ref.case_id}
        assert set(hub.live_agents(ref.case_id)) == {"a1"}
        assert not hub.live_cases("a2")
        ringing.cancel()
        await asyncio.gather(ringing, return_exceptions=True)
        assert not hub.live_cases("a1") and not hub.live_agents(ref.case_id)
        # A call taken (routing's call update) is stored as the interaction's agent.
        rig.acd.notify("a1", {"type": "call", "call_id": "call-1", "case_id": ref.case_id,
                              "phase": "connected"})
        for _ in range(200):
            await asyncio.sleep(0.01)
            if [c.agent for c in await cases.case_contacts(ref.case_id)] == ["a1"]:
                break
        assert [c.agent for c in await cases.case_contacts(ref.case_id)] == ["a1"]
        update = [m for m in link.sent if m["type"] == "call"][-1]
        assert update["case_id"] == offer["case_id"]
    finally:
        await hub.close()
        await cases.close()


def test_the_recent_window_comes_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "centralita.yaml"
    assert load_settings(None, {}).cases.agent_recent_window == 86400.0
    config.write_text("cases:\n  agent_recent_window: 3600\n")
    assert load_settings(config, {}).cases.agent_recent_window == 3600.0
    for bad in ("cases:\n  agent_recent_window: -1\n", "cases:\n  window: 5\n", "cases: 5\n"):
        config.write_text(bad)
        with pytest.raises(ConfigError, match="agent_recent_window"):
            load_settings(config, {})


def test_teams_in_the_routing_file() -> None:
    text = ("queues:\n  - name: q\nagents:\n  - id: ana\n    queues: [q]\n  - id: bo\n"
            "    queues: [q]\nteams:\n  - name: front\n    supervisors: [sam]\n"
            "    agents: [ana]\n  - name: late\n    supervisors: [sam, sue]\n    agents: [bo]\n")
    config = parse_routing(text, "routing.yaml")
    assert config.teams["front"] == TeamConfig("front", ("sam",), ("ana",))
    teams = Teams.from_config(config.teams.values())
    assert teams.configured
    assert teams.agents_of == {"sam": frozenset({"ana", "bo"}), "sue": frozenset({"bo"})}
    assert not Teams.from_config(parse_routing("queues: []\n", "r.yaml").teams.values()).configured
    with pytest.raises(InvalidConfig, match=r"routing.yaml:11:14: teams\[0\].agents\[0\]: no agent"):
        parse_routing(text.replace("agents: [ana]", "agents: [zed]"), "routing.yaml")
