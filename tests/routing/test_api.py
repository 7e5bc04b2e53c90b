"""The routing HTTP API over an in-memory `RoutingService`, through aiohttp's test client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from routing.config import parse_agent, parse_queue
from routing.model import (
    AgentConfig,
    AgentState,
    AgentStatus,
    Callback,
    CallbackState,
    QueueConfig,
    RoutingError,
)
from web.auth import Principal, Role
from web.auth.access import ROUTE_ACCESS
from web.auth.service import PRINCIPAL
from web.routing_api import MAX_BODY, add_routing_routes

Client = TestClient[web.Request, web.Application]


class FakeRouting:
    """Just enough of an ACD: configs in dicts, real `AgentStatus` moves, canned figures."""

    def __init__(self) -> None:
        self.queues: dict[str, QueueConfig] = {}
        self.agents: dict[str, AgentConfig] = {}
        self.status: dict[str, AgentStatus] = {}
        self.busy_queues: set[str] = set()
        self.figures_asked: list[tuple[str, float | None, float | None]] = []
        self.stored_callbacks = [
            Callback("cb-1", "support", "+15550100", 7, 1000.0),
            Callback("cb-2", "support", "+15550101", 9, 1001.0, state=CallbackState.DIALING),
            Callback("cb-3", "sales", "+15550102", 11, 1002.0, state=CallbackState.DONE),
        ]

    def queue_configs(self) -> dict[str, QueueConfig]:
        return dict(self.queues)

    async def put_queue(self, cfg: QueueConfig) -> None:
        self.queues[cfg.name] = cfg

    async def delete_queue(self, name: str) -> bool:
        if name in self.busy_queues:
            raise RoutingError(f"queue {name}: 2 callers waiting")
        return self.queues.pop(name, None) is not None

    def agent_configs(self) -> dict[str, AgentConfig]:
        return dict(self.agents)

    async def put_agent(self, cfg: AgentConfig) -> None:
        self.agents[cfg.id] = cfg
        self.status.setdefault(cfg.id, AgentStatus(cfg.id))

    async def delete_agent(self, agent_id: str) -> bool:
        self.status.pop(agent_id, None)
        return self.agents.pop(agent_id, None) is not None

    async def set_agent_state(
        self, agent_id: str, state: AgentState, reason: str | None
    ) -> AgentStatus:
        status = self.status[agent_id]
        status.set_state(state, 42.0, reason)
        return status

    async def live(self) -> dict[str, Any]:
        return {"queues": {name: {"waiting": 0} for name in self.queues},
                "agents": {a: s.to_dict() for a, s in self.status.items()}}

    async def queue_figures(
        self, name: str, since: float | None, until: float | None
    ) -> dict[str, Any]:
        if name not in self.queues:
            raise KeyError(name)
        self.figures_asked.append((name, since, until))
        return {"queue": name, "answered": 3}

    async def agent_figures(
        self, agent_id: str, since: float | None, until: float | None
    ) -> dict[str, Any]:
        if agent_id not in self.agents:
            raise KeyError(agent_id)
        self.figures_asked.append((agent_id, since, until))
        return {"agent": agent_id, "handled": 2}

    async def callbacks(self, states: frozenset[CallbackState] | None) -> list[Callback]:
        return [cb for cb in self.stored_callbacks if states is None or cb.state in states]

    async def cancel_callback(self, callback_id: str) -> bool:
        for cb in self.stored_callbacks:
            if cb.id == callback_id and cb.state is CallbackState.WAITING:
                cb.state = CallbackState.CANCELLED
                return True
        return False


@web.middleware
async def as_principal(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Stands in for the auth middleware: `X-As: agent:ana` logs the request in as ana."""
    who = request.headers.get("X-As")
    if who is not None:
        role, _, name = who.partition(":")
        request[PRINCIPAL] = Principal(name, Role.parse(role), "token")
    return await handler(request)


@pytest.fixture
def service() -> FakeRouting:
    fake = FakeRouting()
    fake.queues = {"support": parse_queue({"name": "support"}),
                   "sales": parse_queue({"name": "sales"})}
    fake.agents = {"ana": parse_agent({"id": "ana", "queues": ["support"]})}
    fake.status = {"ana": AgentStatus("ana")}
    return fake


@pytest.fixture
async def client(service: FakeRouting) -> AsyncIterator[Client]:
    app = web.Application(middlewares=[as_principal])
    add_routing_routes(app, service)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def error_of(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    return error


def test_every_route_declares_its_role() -> None:
    app = web.Application()
    add_routing_routes(app, FakeRouting())
    declared = {
        (route.method, route.resource.canonical): app[ROUTE_ACCESS].get(route)
        for route in app.router.routes() if route.resource is not None
    }
    roles = {key: access.role if access else None for key, access in declared.items()}
    assert roles[("POST", "/api/queues")] == Role.ADMIN
    assert roles[("GET", "/api/routing/live")] == Role.SUPERVISOR
    assert roles[("PUT", "/api/agents/{id}/state")] == Role.AGENT
    assert None not in roles.values()
    assert len(roles) == 16


async def test_queue_crud(client: Client, service: FakeRouting) -> None:
    resp = await client.get("/api/queues")
    assert [q["name"] for q in (await resp.json())["queues"]] == ["sales", "support"]

    body = {"name": "vip", "strategy": "round-robin", "max_wait": 60,
            "overflow": {"kind": "queue", "target": "support"}}
    resp = await client.post("/api/queues", json=body)
    assert resp.status == 201
    assert resp.headers["Location"] == "/api/queues/vip"
    created = await resp.json()
    assert created["strategy"] == "round-robin"
    assert created["overflow"] == {"kind": "queue", "target": "support"}
    assert service.queues["vip"] == parse_queue(body)

    resp = await client.post("/api/queues", json={"name": "vip"})
    assert await error_of(resp, 409) == {
        "code": "exists", "message": 'queue "vip" exists', "where": "body.name"}

    resp = await client.put("/api/queues/vip", json={"service_level": 10})
    assert resp.status == 200
    assert service.queues["vip"] == QueueConfig("vip", service_level=10.0)
    resp = await client.put("/api/queues/new", json={})
    assert resp.status == 201
    assert service.queues["new"] == QueueConfig("new")

    resp = await client.get("/api/queues/vip")
    assert (await resp.json())["service_level"] == 10.0
    resp = await client.delete("/api/queues/vip")
    assert resp.status == 204
    assert "vip" not in service.queues
    resp = await client.get("/api/queues/vip")
    assert await error_of(resp, 404) == {"code": "not_found", "message": 'no queue "vip"'}
    resp = await client.delete("/api/queues/vip")
    assert resp.status == 404
    resp = await client.get("/api/queues/no%20such")
    assert resp.status == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "error"),
    [
        ("POST", "/api/queues", {"name": "x", "strategy": "random"},
         {"code": "invalid_config", "where": "body.strategy",
          "message": 'must be one of longest-idle, round-robin, skills-weighted, got "random"'}),
        ("POST", "/api/queues", {"name": "x", "max_wait": 9, "overflow": {"kind": "lift"}},
         {"code": "invalid_config", "where": "body.overflow.kind",
          "message": 'must be one of queue, voicemail, callback, hangup, got "lift"'}),
        ("POST", "/api/queues", {"name": "x", "max_wait": 9,
                                 "overflow": {"kind": "queue", "target": "gone"}},
         {"code": "invalid_config", "where": "body.overflow.target",
          "message": 'unknown queue "gone"'}),
        ("PUT", "/api/queues/x", {"name": "y"},
         {"code": "invalid_config", "where": "body.name",
          "message": "does not match the queue name in the URL"}),
        ("POST", "/api/queues", {"nmae": "x"},
         {"code": "invalid_config", "where": "body.nmae",
          "message": 'unknown key "nmae" (did you mean "name"?)'}),
        ("POST", "/api/agents", {"id": "bob", "queues": ["support", "billing"]},
         {"code": "invalid_config", "where": "body.queues[1]",
          "message": 'agent "bob" serves unknown queue "billing"'}),
        ("POST", "/api/agents", {"id": "ana"},
         {"code": "exists", "where": "body.id", "message": 'agent "ana" exists'}),
        ("PUT", "/api/agents/bob", {"skills": {"english": 11}},
         {"code": "invalid_config", "where": "body.skills.english",
          "message": "skill level must be an integer 1-10, got 11"}),
        ("PUT", "/api/agents/bob", {"id": "ana"},
         {"code": "invalid_config", "where": "body.id",
          "message": "does not match the agent id in the URL"}),
        ("PUT", "/api/agents/ana", {"max_concurrent": "2"},
         {"code": "invalid_config", "where": "body.max_concurrent",
          "message": 'must be an integer 1 or more, got "2"'}),
    ],
)
async def test_bad_definitions_are_400_or_409_and_nothing_changes(
    client: Client, service: FakeRouting, method: str, path: str, body: Any,
    error: dict[str, str],
) -> None:
    before = (dict(service.queues), dict(service.agents))
    resp = await client.request(method, path, json=body)
    assert await error_of(resp, 400 if error["code"] != "exists" else 409) == error
    assert (service.queues, service.agents) == before


@pytest.mark.parametrize(
    ("data", "headers", "message"),
    [
        (b'{"name": ', {}, "not JSON: Expecting value at line 1 column 10"),
        (b'["support"]', {}, "must be a JSON object"),
        (b'{"name": "a", "name": "b"}', {}, 'key "name" appears twice'),
        (b'{"name": "a", "max_wait": NaN}', {}, "NaN is not a JSON number"),
        (b'{"name": "\xff"}', {}, "body is not UTF-8"),
        (b'{"name": "a"}', {"Content-Type": "text/plain"},
         "send JSON (Content-Type: application/json)"),
        (b'{"name": "a", "pad": "' + b"x" * MAX_BODY + b'"}', {},
         f"body over {MAX_BODY} bytes"),
    ],
)
async def test_malformed_bodies(
    client: Client, service: FakeRouting, data: bytes, headers: dict[str, str], message: str
) -> None:
    resp = await client.post(
        "/api/queues", data=data, headers={"Content-Type": "application/json", **headers}
    )
    assert await error_of(resp, 400) == {"code": "invalid_body", "message": message,
                                         "where": "body"}
    assert set(service.queues) == {"support", "sales"}


async def test_chunked_body_over_the_limit_is_refused(client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "a", "pad": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    resp = await client.post(
        "/api/queues", data=chunks(), headers={"Content-Type": "application/json"}
    )
    error = await error_of(resp, 400)
    assert error["message"] == f"body over {MAX_BODY} bytes"


async def test_delete_queue_in_use(client: Client, service: FakeRouting) -> None:
    service.queues["vip"] = parse_queue(
        {"name": "vip", "max_wait": 5, "overflow": {"kind": "queue", "target": "sales"}})
    resp = await client.delete("/api/queues/support")
    assert await error_of(resp, 409) == {
        "code": "in_use", "message": 'queue "support" is in use: agent "ana" serves it'}
    resp = await client.delete("/api/queues/sales")
    assert await error_of(resp, 409) == {
        "code": "in_use", "message": 'queue "sales" is in use: queue "vip" overflows to it'}
    del service.queues["vip"]
    service.busy_queues.add("sales")
    resp = await client.delete("/api/queues/sales")
    assert await error_of(resp, 409) == {
        "code": "conflict", "message": "queue sales: 2 callers waiting"}
    assert "sales" in service.queues


async def test_agent_crud(client: Client, service: FakeRouting) -> None:
    resp = await client.post("/api/agents", json={"id": "bob", "skills": {"english": 6},
                                                  "queues": ["sales"]})
    assert resp.status == 201
    assert service.agents["bob"] == AgentConfig("bob", skills={"english": 6}, queues=("sales",))
    resp = await client.get("/api/agents")
    assert [a["id"] for a in (await resp.json())["agents"]] == ["ana", "bob"]
    resp = await client.get("/api/agents/ana")
    assert await resp.json() == {
        "id": "ana", "name": "", "skills": {}, "max_concurrent": 1, "contact": None,
        "queues": ["support"], "capacity": {}, "languages": [],
        "status": {"agent": "ana", "state": "offline", "reason": None, "since": 0.0, "active": 0},
    }
    resp = await client.put("/api/agents/bob", json={"max_concurrent": 3})
    assert resp.status == 200
    assert service.agents["bob"] == AgentConfig("bob", max_concurrent=3)
    resp = await client.delete("/api/agents/bob")
    assert resp.status == 204
    resp = await client.delete("/api/agents/bob")
    assert await error_of(resp, 404) == {"code": "not_found", "message": 'no agent "bob"'}
    resp = await client.put("/api/agents/carol", json={})
    assert resp.status == 201


async def test_agent_state_moves(client: Client, service: FakeRouting) -> None:
    resp = await client.put("/api/agents/ana/state", json={"state": "available"})
    assert resp.status == 200
    assert await resp.json() == {"agent": "ana", "state": "available", "reason": None,
                                 "since": 42.0, "active": 0}
    resp = await client.put("/api/agents/ana/state", json={"state": "break", "reason": "lunch"})
    assert (await resp.json())["reason"] == "lunch"
    assert service.status["ana"].state is AgentState.BREAK
    service.status["ana"].state = AgentState.ON_CALL
    resp = await client.put("/api/agents/ana/state", json={"state": "offline"})
    assert await error_of(resp, 409) == {
        "code": "illegal_state", "where": "body.state",
        "message": "agent ana: cannot move from on_call to offline"}
    assert service.status["ana"].state is AgentState.ON_CALL
    resp = await client.put("/api/agents/zed/state", json={"state": "available"})
    assert await error_of(resp, 404) == {"code": "not_found", "message": 'no agent "zed"'}


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ({"state": "on_call"}, "body.state",
         'must be one of available, break, offline, got "on_call" '
         "(reserved, on_call and wrap_up are routing's to set)"),
        ({}, "body.state", "must be one of available, break, offline, got null "
         "(reserved, on_call and wrap_up are routing's to set)"),
        ({"state": "available", "reason": "back"}, "body.reason", "only a break takes a reason"),
        ({"state": "break", "reason": ""}, "body.reason", "must be text of 1-100 characters"),
        ({"state": "break", "reason": 5}, "body.reason", "must be text of 1-100 characters"),
        ({"state": "break", "why": "x"}, "body.why", 'unknown key "why"'),
    ],
)
async def test_agent_state_bad_bodies(
    client: Client, service: FakeRouting, body: dict[str, Any], where: str, message: str
) -> None:
    resp = await client.put("/api/agents/ana/state", json=body)
    assert await error_of(resp, 400) == {"code": "invalid_body", "where": where,
                                         "message": message}
    assert service.status["ana"].state is AgentState.OFFLINE


async def test_agents_act_for_themselves_only(client: Client, service: FakeRouting) -> None:
    await service.put_agent(AgentConfig("bob"))
    as_bob = {"X-As": "agent:bob"}
    resp = await client.put("/api/agents/ana/state", json={"state": "available"}, headers=as_bob)
    assert await error_of(resp, 403) == {
        "code": "forbidden", "message": "agents may only do this for themselves"}
    assert service.status["ana"].state is AgentState.OFFLINE
    assert (await client.get("/api/agents/ana", headers=as_bob)).status == 403
    assert (await client.get("/api/agents/ana/figures", headers=as_bob)).status == 403
    resp = await client.put("/api/agents/bob/state", json={"state": "available"}, headers=as_bob)
    assert resp.status == 200
    resp = await client.put("/api/agents/ana/state", json={"state": "available"},
                            headers={"X-As": "supervisor:sue"})
    assert resp.status == 200


async def test_figures_periods(client: Client, service: FakeRouting) -> None:
    resp = await client.get("/api/queues/support/figures")
    assert await resp.json() == {"queue": "support", "answered": 3}
    resp = await client.get(
        "/api/queues/support/figures",
        params={"since": "1700000000", "until": "2024-01-01T00:00:00+01:00"})
    assert resp.status == 200
    until = datetime(2023, 12, 31, 23, tzinfo=UTC).timestamp()
    resp = await client.get("/api/agents/ana/figures",
                            params={"since": "2023-12-31T22:00:00Z", "until": "1704063600.5"})
    assert await resp.json() == {"agent": "ana", "handled": 2}
    assert service.figures_asked == [
        ("support", None, None), ("support", 1700000000.0, until),
        ("ana", until - 3600, 1704063600.5)]
    resp = await client.get("/api/queues/gone/figures")
    assert await error_of(resp, 404) == {"code": "not_found", "message": 'no queue "gone"'}
    resp = await client.get("/api/agents/zed/figures")
    assert resp.status == 404


@pytest.mark.parametrize(
    ("query", "where", "message"),
    [
        ("since=yesterday", "query.since",
         'expected UNIX seconds or an ISO-8601 time, got "yesterday"'),
        ("until=2024-01-01T10:00", "query.until",
         "an ISO-8601 time needs its UTC offset (Z or +hh:mm)"),
        ("since=nan", "query.since", 'expected UNIX seconds, got "nan"'),
        ("since=200&until=100", "query.until", "until is before since"),
    ],
)
async def test_figures_bad_periods(
    client: Client, service: FakeRouting, query: str, where: str, message: str
) -> None:
    for path in ("/api/queues/support/figures", "/api/agents/ana/figures"):
        resp = await client.get(f"{path}?{query}")
        assert await error_of(resp, 400) == {"code": "invalid_parameter", "where": where,
                                             "message": message}
    assert service.figures_asked == []


async def test_live(client: Client) -> None:
    resp = await client.get("/api/routing/live")
    body = await resp.json()
    assert body["queues"] == {"support": {"waiting": 0}, "sales": {"waiting": 0}}
    assert body["agents"]["ana"]["state"] == "offline"


async def test_callbacks(client: Client, service: FakeRouting) -> None:
    async def ids(query: str) -> list[str]:
        resp = await client.get(f"/api/callbacks{query}")
        assert resp.status == 200
        return [cb["id"] for cb in (await resp.json())["callbacks"]]

    assert await ids("") == ["cb-1", "cb-2", "cb-3"]
    assert await ids("?state=waiting") == ["cb-1"]
    assert await ids("?state=waiting,dialing") == ["cb-1", "cb-2"]
    assert await ids("?state=done&state=dialing") == ["cb-2", "cb-3"]
    resp = await client.get("/api/callbacks?state=pending")
    assert await error_of(resp, 400) == {
        "code": "invalid_parameter", "where": "query.state",
        "message": 'must be one of waiting, dialing, done, failed, cancelled, got "pending"'}
    resp = await client.get("/api/callbacks")
    first = (await resp.json())["callbacks"][0]
    assert json.loads(json.dumps(first)) == service.stored_callbacks[0].to_dict()

    resp = await client.delete("/api/callbacks/cb-1")
    assert resp.status == 204
    assert service.stored_callbacks[0].state is CallbackState.CANCELLED
    resp = await client.delete("/api/callbacks/cb-1")
    assert await error_of(resp, 404) == {"code": "not_found",
                                         "message": 'no callback to cancel "cb-1"'}
