"""Assemble the OpenAPI 3.1 document from the live route table and the declared operations.

    doc = build_document(app)          # every route of `app`, as aiohttp holds them now
    missing = undocumented(app)        # ["GET /api/x", ...]: routes no group declares

The route table is the truth of what exists: an operation is emitted for each route (HEAD
is GET's shadow and is not listed; a static directory is `GET {prefix}/{filename}`), with
the role its `web.auth.require` declared (`x-role`, its security, and the 401/403 or the
login redirect that role implies). A path variable whose pattern is a few literal words
(`{action:hangup|transfer}`) is listed as one path per word, so each gets its own body and
role; any other custom pattern becomes the parameter's `pattern`. A declared operation with
no route (a feature switched off) is simply not in the document.

Served at `GET /api/openapi.json` to any signed-in role (agent and up): the contract is for
integrators, who call the API with a token anyway, and an anonymous scanner gets no map of
the admin and debug surface. The document is built per request (a few ms), so it always
matches the routes of this server and configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from web.auth import Role, require
from web.auth.access import ROUTE_ACCESS, Access
from web.auth.http import SESSION_COOKIE
from web.openapi.groups import OPERATIONS, TAGS
from web.openapi.model import ERROR_REF, JSON, Op, Reply, Schema

OPENAPI_PATH = "/api/openapi.json"
_DEFAULT_VARIABLE = "[^{}/]+"
_VARIABLE = re.compile(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)")
_WORDS = re.compile(r"[A-Za-z0-9_-]+(?:\|[A-Za-z0-9_-]+)*")
# A path parameter with aiohttp's default pattern: one segment. Schemathesis and clients
# get this (printable, no separators) so a generated value reaches the route it is for.
ID_PARAM: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}

ERROR_SCHEMA: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "where": {"type": "string"}},
    }},
}


@dataclass(frozen=True)
class Listed:
    """One route as the document lists it."""

    method: str
    path: str
    variables: dict[str, Schema]
    access: Access | None
    route: web.AbstractRoute


def _variables(resource: web.AbstractResource) -> Iterator[tuple[str, dict[str, Schema]]]:
    """(path, path-parameter schemas) for each path the resource stands for."""
    info = resource.get_info()
    if isinstance(resource, web.StaticResource):
        yield resource.canonical + "/{filename}", {"filename": {
            "type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,64}$"}}
        return
    if "formatter" not in info:
        yield resource.canonical, {}
        return
    paths: list[tuple[str, dict[str, Schema]]] = [(str(info["formatter"]), {})]
    for name, regex in _VARIABLE.findall(info["pattern"].pattern):
        expanded: list[tuple[str, dict[str, Schema]]] = []
        for path, schemas in paths:
            if regex != _DEFAULT_VARIABLE and _WORDS.fullmatch(regex):
                for word in regex.split("|"):
                    expanded.append((path.replace("{" + name + "}", word), schemas))
            else:
                schema = ID_PARAM if regex == _DEFAULT_VARIABLE else {
                    "type": "string", "pattern": f"^(?:{regex})$"}
                expanded.append((path, {**schemas, name: schema}))
        paths = expanded
    yield from paths


def listed_routes(app: web.Application) -> list[Listed]:
    """Every route of `app` but HEAD, as the document lists it."""
    access = app.get(ROUTE_ACCESS)
    found: list[Listed] = []
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        method = "GET" if route.method == "*" else route.method
        for path, variables in _variables(route.resource):
            found.append(Listed(method, path, variables,
                                access.get(route) if access is not None else None, route))
    return found


def undocumented(app: web.Application) -> list[str]:
    """"METHOD /path" of every route of `app` that no group declares."""
    return sorted({f"{r.method} {r.path}" for r in listed_routes(app)
                   if (r.method, r.path) not in OPERATIONS})


# A path whose variable does not match its route's pattern is aiohttp's own plain 404.
_NO_ROUTE = "text/plain"


def _reply(value: Reply | str, status: int, variables: bool) -> dict[str, Any]:
    if isinstance(value, str):
        content: dict[str, Any] = {JSON: {"schema": ERROR_REF}}
        if status == 404 and variables:
            content[_NO_ROUTE] = {}
        return {"description": value, "content": content}
    answer: dict[str, Any] = {"description": value.description}
    if value.media is not None:
        answer["content"] = {value.media: {"schema": value.schema} if value.schema else {}}
    return answer


def _operation(listed: Listed, op: Op, tag: str) -> dict[str, Any]:
    access = listed.access
    role = access.role if access is not None else None
    slug = re.sub(r"[^A-Za-z0-9]+", "_", listed.path).strip("_")
    out: dict[str, Any] = {
        "operationId": f"{listed.method.lower()}_{slug}",
        "summary": op.summary,
        "tags": [tag],
        "x-role": role.label if role is not None else "public",
    }
    if op.description:
        out["description"] = op.description
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": op.path.get(name, schema)}
        for name, schema in listed.variables.items()
    ]
    params += [{"name": name, "in": "query", "required": name in op.required_query,
                "schema": schema} for name, schema in op.query.items()]
    params += [{"name": name, "in": "header", "required": False, "schema": schema}
               for name, schema in op.headers.items()]
    if params:
        out["parameters"] = params
    replies: dict[int, Reply | str] = dict(op.replies)
    if op.body is not None:
        out["requestBody"] = {"required": True,
                              "content": {op.body_media: {"schema": op.body}}}
        replies.setdefault(400, "the body is not acceptable; `where` names the field")
    if role is None:
        out["security"] = []
    else:
        if access is not None and access.page:
            replies.setdefault(302, Reply("not signed in: to the login page", None, None))
        else:
            replies.setdefault(401, "not signed in")
        replies.setdefault(403, f"below the {role.label} role, or a cookie without its "
                                "CSRF token")
    if listed.variables:
        replies.setdefault(404, "nothing by that name")
    if listed.path.startswith("/api/"):
        replies.setdefault(429, "over the caller's request budget for this route "
                                "(web.ratelimit); Retry-After says when to try again")
    out["responses"] = {str(status): _reply(replies[status], status, bool(listed.variables))
                        for status in sorted(replies)}
    return out


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`'s routes that a group declares."""
    paths: dict[str, dict[str, Any]] = {}
    for listed in listed_routes(app):
        key = (listed.method, listed.path)
        if key not in OPERATIONS:
            continue
        op, tag = OPERATIONS[key], TAGS[key]
        paths.setdefault(listed.path, {})[listed.method.lower()] = _operation(listed, op, tag)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Centralita",
            "version": "1",
            "description": "Every HTTP route of this server. `x-role` is the least role an "
                           "operation needs (agent < supervisor < admin; public: no login). "
                           "Errors are `{\"error\": {\"code\", \"message\", \"where\"?}}`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app))


def add_openapi_route(app: web.Application) -> None:
    """`GET /api/openapi.json` for any signed-in role (see the module's docstring)."""
    require(app, app.router.add_get(OPENAPI_PATH, openapi_json), Role.AGENT)
