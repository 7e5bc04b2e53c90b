"""HTTP API of the ACD: queues, agents and their states, live view, service figures, callbacks.

    GET    /api/queues                     {"queues": [queue...]}                   agent
    POST   /api/queues                     create -> 201 (409 if it exists)         admin
    GET    /api/queues/{name}              one queue                                agent
    PUT    /api/queues/{name}              create (201) or replace (200)            admin
    DELETE /api/queues/{name}              204 (409 while referenced or in use)     admin
    GET    /api/queues/{name}/figures      ?since=&until= (UNIX s or ISO-8601)      supervisor
    GET    /api/agents                     {"agents": [agent...]}                   supervisor
    POST   /api/agents                     create -> 201 (409 if it exists)         admin
    GET    /api/agents/{id}                the agent, with its live "status"        agent (self)
    PUT    /api/agents/{id}                create (201) or replace (200)            admin
    DELETE /api/agents/{id}                204                                      admin
    PUT    /api/agents/{id}/state          {"state": available|break|offline,       agent (self)
                                            "reason"?: text, break only} -> status
    GET    /api/agents/{id}/figures        ?since=&until=                           agent (self)
    GET    /api/routing/live               queues and agents right now              supervisor
    GET    /api/callbacks                  ?state=waiting[,dialing...] (all if none) supervisor
    DELETE /api/callbacks/{id}             cancel -> 204                            supervisor

Queue figures and each queue of the live view carry `"channels": {channel: figures}` for the
text channels the queue serves (`routing.text_stats.ChannelFigures`: time to first response
as `asa`, next responses, service level against the queue's `response_targets`, waiting and
longest wait), empty for a voice-only queue.

"agent (self)": an agent may use it for their own id (their user name), a supervisor for
anyone's. Queue and agent bodies are the dicts of `routing.config` (absent keys take the
defaults, so a PUT replaces the whole definition; in a PUT, `name`/`id` may be left out).

Errors are `{"error": {"code", "message", "where"}}`: 400 `invalid_body` (not a JSON object,
over 64 KB, nested deeper than 32, wrong Content-Type), `invalid_config` (a bad definition,
`where` like `body.overflow.kind`), `invalid_parameter` (`where` like `query.since`); 404 `not_found`;
409 `exists`, `in_use` (a queue others refer to), `illegal_state` (an agent's move),
`conflict` (anything else the engine refuses now, e.g. deleting a queue callers wait in);
403 `forbidden` (an agent acting for another). Handlers stay thin (STYLE.md §13): parse with
`routing.config`, call the `RoutingService`, serialise.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn

from aiohttp import web

from cases.errors import CaseError
from routing.config import (
    MAX_REASON,
    NAME_RE,
    agent_to_dict,
    check_agent,
    check_queue,
    parse_agent,
    parse_queue,
    queue_references,
    queue_to_dict,
)
from routing.model import AgentState, AgentStateError, CallbackState, InvalidConfig, RoutingError
from routing.service import RoutingService
from web.auth import Role, require
from web.auth.service import PRINCIPAL
from web.case_http import CASE_STORE
from web.jsonbody import JsonBodyError, read_json

ROUTING: web.AppKey[RoutingService] = web.AppKey("routing_service")

MAX_BODY = 64 * 1024
# Moves an agent (or their supervisor) makes by hand; routing makes the others.
MANUAL_STATES = (AgentState.AVAILABLE, AgentState.BREAK, AgentState.OFFLINE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A refused request, turned into the JSON error response by `_errors`."""

    def __init__(self, status: int, code: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.where = where

    def response(self) -> web.Response:
        body: dict[str, str] = {"code": self.code, "message": self.message}
        if self.where is not None:
            body["where"] = self.where
        return web.json_response({"error": body}, status=self.status)


def _errors(handler: Handler) -> Handler:
    """Translate refusals at the boundary (STYLE.md §8); anything else is a 500 and a bug."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except InvalidConfig as exc:
            return ApiError(400, "invalid_config", exc.reason, exc.where or None).response()
        except AgentStateError as exc:
            return ApiError(409, "illegal_state", str(exc), "body.state").response()
        except RoutingError as exc:
            return ApiError(409, "conflict", str(exc)).response()

    return wrapped


# --- parsing requests ---------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ApiError(400, "invalid_body", f"key {json.dumps(key)} appears twice", "body")
        out[key] = value
    return out


def _no_constants(name: str) -> NoReturn:
    raise ApiError(400, "invalid_body", f"{name} is not a JSON number", "body")


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object of at most `MAX_BODY` bytes, read no further than that,
    nested no deeper than `web.jsonbody.MAX_DEPTH` (the one reader of every JSON body)."""
    try:
        value = await read_json(
            request, max_bytes=MAX_BODY, object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
        )
    except JsonBodyError as exc:
        raise ApiError(400, "invalid_body", exc.message, exc.where) from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_body", "must be a JSON object", "body")
    return value


_KINDS = {"name": "queue", "id": "agent"}


def _url_name(request: web.Request, key: str) -> str:
    """A queue name or agent id from the URL; one that could never exist is a 404."""
    value = request.match_info[key]
    if not NAME_RE.match(value):
        raise ApiError(404, "not_found", f"no {_KINDS[key]} {json.dumps(value)}")
    return value


def _time(request: web.Request, key: str) -> float | None:
    """`?key=` as UNIX seconds: given as such or as an ISO-8601 time with its offset."""
    raw = request.query.get(key)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return _iso_time(raw, f"query.{key}")
    if not math.isfinite(value):
        raise ApiError(400, "invalid_parameter", f"expected UNIX seconds, got {json.dumps(raw)}",
                       f"query.{key}")
    return value


def _iso_time(raw: str, where: str) -> float:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter",
                       f"expected UNIX seconds or an ISO-8601 time, got {json.dumps(raw)}",
                       where) from None
    if moment.tzinfo is None:
        # A time without an offset means a different instant on every server: refuse it.
        raise ApiError(400, "invalid_parameter",
                       "an ISO-8601 time needs its UTC offset (Z or +hh:mm)", where)
    return moment.timestamp()


def _period(request: web.Request) -> tuple[float | None, float | None]:
    since, until = _time(request, "since"), _time(request, "until")
    if since is not None and until is not None and until < since:
        raise ApiError(400, "invalid_parameter", "until is before since", "query.until")
    return since, until


def _self_or_supervisor(request: web.Request, agent_id: str) -> None:
    """An agent acts for themselves only (their user name is their agent id)."""
    who = request.get(PRINCIPAL)
    if who is not None and who.role < Role.SUPERVISOR and who.name != agent_id:
        raise ApiError(403, "forbidden", "agents may only do this for themselves")


def _not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, "not_found", f"no {kind} {json.dumps(name)}")


# --- queues ---------------------------------------------------------------------------------


async def list_queues(request: web.Request) -> web.Response:
    """Every queue's definition, by name."""
    queues = request.app[ROUTING].queue_configs()
    return web.json_response({"queues": [queue_to_dict(queues[n]) for n in sorted(queues)]})


async def create_queue(request: web.Request) -> web.Response:
    """A new queue; 409 if one has this name."""
    service = request.app[ROUTING]
    cfg = parse_queue(await _json_object(request))
    queues = service.queue_configs()
    if cfg.name in queues:
        raise ApiError(409, "exists", f"queue {json.dumps(cfg.name)} exists", "body.name")
    check_queue(cfg, queues)
    await service.put_queue(cfg)
    return web.json_response(queue_to_dict(cfg), status=201,
                             headers={"Location": f"/api/queues/{cfg.name}"})


async def get_queue(request: web.Request) -> web.Response:
    """One queue's definition."""
    name = _url_name(request, "name")
    cfg = request.app[ROUTING].queue_configs().get(name)
    if cfg is None:
        raise _not_found("queue", name)
    return web.json_response(queue_to_dict(cfg))


async def put_queue(request: web.Request) -> web.Response:
    """Create or replace the queue named in the URL (the body's name, if any, must agree)."""
    service = request.app[ROUTING]
    name = _url_name(request, "name")
    body = await _json_object(request)
    if body.setdefault("name", name) != name:
        raise ApiError(400, "invalid_config", "does not match the queue name in the URL",
                       "body.name")
    cfg = parse_queue(body)
    queues = service.queue_configs()
    check_queue(cfg, queues)
    await service.put_queue(cfg)
    return web.json_response(queue_to_dict(cfg), status=200 if name in queues else 201)


async def delete_queue(request: web.Request) -> web.Response:
    """Remove a queue nothing refers to and nobody waits in."""
    service = request.app[ROUTING]
    name = _url_name(request, "name")
    users = queue_references(name, service.queue_configs(), service.agent_configs())
    if users:
        raise ApiError(409, "in_use", f"queue {json.dumps(name)} is in use: {'; '.join(users)}")
    if not await service.delete_queue(name):
        raise _not_found("queue", name)
    return web.Response(status=204)


async def queue_figures(request: web.Request) -> web.Response:
    """Service figures of a queue over a period."""
    name = _url_name(request, "name")
    since, until = _period(request)
    try:
        figures = await request.app[ROUTING].queue_figures(name, since, until)
    except KeyError:
        raise _not_found("queue", name) from None
    return web.json_response(figures)


# --- agents ---------------------------------------------------------------------------------


async def list_agents(request: web.Request) -> web.Response:
    """Every agent's definition, by id."""
    agents = request.app[ROUTING].agent_configs()
    return web.json_response({"agents": [agent_to_dict(agents[a]) for a in sorted(agents)]})


async def create_agent(request: web.Request) -> web.Response:
    """A new agent; 409 if one has this id."""
    service = request.app[ROUTING]
    cfg = parse_agent(await _json_object(request))
    if cfg.id in service.agent_configs():
        raise ApiError(409, "exists", f"agent {json.dumps(cfg.id)} exists", "body.id")
    check_agent(cfg, service.queue_configs())
    await service.put_agent(cfg)
    return web.json_response(agent_to_dict(cfg), status=201,
                             headers={"Location": f"/api/agents/{cfg.id}"})


async def get_agent(request: web.Request) -> web.Response:
    """One agent's definition and live status (null before the engine knows them)."""
    agent_id = _url_name(request, "id")
    _self_or_supervisor(request, agent_id)
    service = request.app[ROUTING]
    cfg = service.agent_configs().get(agent_id)
    if cfg is None:
        raise _not_found("agent", agent_id)
    status = (await service.live()).get("agents", {}).get(agent_id)
    return web.json_response({**agent_to_dict(cfg), "status": status})


async def put_agent(request: web.Request) -> web.Response:
    """Create or replace the agent named in the URL (the body's id, if any, must agree)."""
    service = request.app[ROUTING]
    agent_id = _url_name(request, "id")
    body = await _json_object(request)
    if body.setdefault("id", agent_id) != agent_id:
        raise ApiError(400, "invalid_config", "does not match the agent id in the URL", "body.id")
    cfg = parse_agent(body)
    check_agent(cfg, service.queue_configs())
    existed = agent_id in service.agent_configs()
    await service.put_agent(cfg)
    return web.json_response(agent_to_dict(cfg), status=200 if existed else 201)


async def delete_agent(request: web.Request) -> web.Response:
    """Remove an agent."""
    agent_id = _url_name(request, "id")
    if not await request.app[ROUTING].delete_agent(agent_id):
        raise _not_found("agent", agent_id)
    return web.Response(status=204)


async def set_agent_state(request: web.Request) -> web.Response:
    """Available, on a break (with a reason) or offline; routing makes the other moves."""
    agent_id = _url_name(request, "id")
    _self_or_supervisor(request, agent_id)
    body = await _json_object(request)
    for key in body:
        if key not in ("state", "reason"):
            raise ApiError(400, "invalid_body", f"unknown key {json.dumps(key)}", f"body.{key}")
    labels = [s.value for s in MANUAL_STATES]
    raw = body.get("state")
    if raw not in labels:
        raise ApiError(400, "invalid_body",
                       f"must be one of {', '.join(labels)}, got {json.dumps(raw)} "
                       "(reserved, on_call and wrap_up are routing's to set)", "body.state")
    state = AgentState(raw)
    reason = body.get("reason")
    if reason is not None and state is not AgentState.BREAK:
        raise ApiError(400, "invalid_body", "only a break takes a reason", "body.reason")
    if reason is not None and (not isinstance(reason, str) or not 1 <= len(reason) <= MAX_REASON):
        raise ApiError(400, "invalid_body", f"must be text of 1-{MAX_REASON} characters",
                       "body.reason")
    try:
        status = await request.app[ROUTING].set_agent_state(agent_id, state, reason)
    except KeyError:
        raise _not_found("agent", agent_id) from None
    return web.json_response(status.to_dict())


async def agent_figures(request: web.Request) -> web.Response:
    """Service figures of an agent over a period."""
    agent_id = _url_name(request, "id")
    _self_or_supervisor(request, agent_id)
    since, until = _period(request)
    try:
        figures = await request.app[ROUTING].agent_figures(agent_id, since, until)
    except KeyError:
        raise _not_found("agent", agent_id) from None
    return web.json_response(figures)


# --- live view and callbacks -------------------------------------------------------------


async def live(request: web.Request) -> web.Response:
    """Queues (waiting, longest wait, agents by state) and agents right now."""
    return web.json_response(await request.app[ROUTING].live())


async def list_callbacks(request: web.Request) -> web.Response:
    """Stored callbacks, in the states asked for (`?state=waiting,dialing`; all if none)."""
    labels = [part for raw in request.query.getall("state", []) for part in raw.split(",")]
    states: set[CallbackState] = set()
    for label in labels:
        try:
            states.add(CallbackState(label))
        except ValueError:
            known = ", ".join(s.value for s in CallbackState)
            raise ApiError(400, "invalid_parameter",
                           f"must be one of {known}, got {json.dumps(label)}",
                           "query.state") from None
    found = await request.app[ROUTING].callbacks(frozenset(states) if labels else None)
    return web.json_response({"callbacks": [await _with_public_case(request, cb.to_dict())
                                            for cb in found]})


async def _with_public_case(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with its `case_id` as the case's public id, the only one URLs accept (the
    internal row id is sequential: it must not leave the server)."""
    store = request.config_dict.get(CASE_STORE)
    case_id = body.get("case_id")
    if store is None or not isinstance(case_id, int):
        return {**body, "case_id": None} if case_id is not None else body
    try:
        public = await store.public_id(case_id)
    except CaseError:
        public = None  # the case is gone or unreadable: the callback stands without it
    return {**body, "case_id": public}


async def cancel_callback(request: web.Request) -> web.Response:
    """Cancel a callback that has not been carried out."""
    callback_id = request.match_info["id"]
    if not await request.app[ROUTING].cancel_callback(callback_id):
        raise _not_found("callback to cancel", callback_id)
    return web.Response(status=204)


_ROUTES: tuple[tuple[str, str, Handler, Role], ...] = (
    ("GET", "/api/queues", list_queues, Role.AGENT),
    ("POST", "/api/queues", create_queue, Role.ADMIN),
    ("GET", "/api/queues/{name}", get_queue, Role.AGENT),
    ("PUT", "/api/queues/{name}", put_queue, Role.ADMIN),
    ("DELETE", "/api/queues/{name}", delete_queue, Role.ADMIN),
    ("GET", "/api/queues/{name}/figures", queue_figures, Role.SUPERVISOR),
    ("GET", "/api/agents", list_agents, Role.SUPERVISOR),
    ("POST", "/api/agents", create_agent, Role.ADMIN),
    ("GET", "/api/agents/{id}", get_agent, Role.AGENT),
    ("PUT", "/api/agents/{id}", put_agent, Role.ADMIN),
    ("DELETE", "/api/agents/{id}", delete_agent, Role.ADMIN),
    ("PUT", "/api/agents/{id}/state", set_agent_state, Role.AGENT),
    ("GET", "/api/agents/{id}/figures", agent_figures, Role.AGENT),
    ("GET", "/api/routing/live", live, Role.SUPERVISOR),
    ("GET", "/api/callbacks", list_callbacks, Role.SUPERVISOR),
    ("DELETE", "/api/callbacks/{id}", cancel_callback, Role.SUPERVISOR),
)


def add_routing_routes(app: web.Application, service: RoutingService) -> None:
    """Mount the routing API on `app` with `service` under `ROUTING`, each route declared
    with its minimum role (`web.auth.require`)."""
    app[ROUTING] = service
    for method, path, handler, role in _ROUTES:
        require(app, app.router.add_route(method, path, _errors(handler)), role)
