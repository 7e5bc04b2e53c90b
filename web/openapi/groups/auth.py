"""Health, login, users and tokens, the debug API, metrics and this document
(`web.app`, `web.auth.api`, `centralita.server`, `centralita.metrics_http`)."""

from __future__ import annotations

from web.openapi.model import (
    ANY_OBJ,
    BOOL,
    ERROR_REF,
    HTML,
    INT,
    NO_CONTENT,
    NUM,
    STR,
    Op,
    Reply,
    Schema,
    arr,
    nullable,
    obj,
    ok,
)

TAG = "auth and operations"

ROLE: Schema = {"type": "string", "enum": ["agent", "supervisor", "admin"]}
USER = obj(("name", "role"), name=STR, role=ROLE, disabled=BOOL)
TOKEN = obj(("name", "role"), name=STR, role=ROLE)
STORE_DOWN = "the user store is unavailable"
# The debug API's own errors are plain strings (`centralita.server`).
DEBUG_ERROR = obj(("error",), error=STR)

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/healthz"): Op("Whether the server's parts are up", {
        200: ok("all parts up", obj(("ok",), ok=BOOL)),
        503: ok("a part is down", obj(("ok",), ok=BOOL)),
    }),
    ("GET", "/api/openapi.json"): Op("This document", {200: ok("OpenAPI 3.1", ANY_OBJ)}),
    ("POST", "/api/login"): Op(
        "Sign in with a username and password: a session cookie and its CSRF token",
        {200: ok("signed in", obj(("user", "role", "csrf"), user=STR, role=ROLE, csrf=STR)),
         401: "wrong username or password",
         429: "too many failed logins (Retry-After says when to try again)",
         503: STORE_DOWN},
        body=obj(("username", "password"), extra=False, username=STR, password=STR)),
    ("GET", "/login"): Op("The login page", {200: HTML}),
    ("GET", "/login.js"): Op("The login page's script",
                             {200: Reply("JavaScript", None, "text/javascript")}),
    ("POST", "/api/logout"): Op("End the caller's session", {204: NO_CONTENT}),
    ("GET", "/api/me"): Op("Who the caller is", {
        200: ok("the principal", obj(("user", "role", "via"), user=STR, role=ROLE, via=STR,
                                     csrf=STR))}),
    ("PUT", "/api/me/language"): Op(
        "The language of the signed-in user's pages (null: their browser's)",
        {200: ok("kept", obj(("language",), language=nullable(STR))),
         400: "not a language we have, or a bearer token (a token has no pages)",
         503: STORE_DOWN},
        body=obj(("language",), extra=False, language=nullable({"enum": ["en", "es"]}))),
    ("GET", "/api/users"): Op("Every user (no password hashes)", {
        200: ok("the users", obj(("users",), users=arr(USER))), 503: STORE_DOWN}),
    ("POST", "/api/users"): Op("Create a user", {
        201: ok("the user", USER), 409: "the user exists", 503: STORE_DOWN},
        body=obj(("name", "password", "role"), extra=False, name=STR, password=STR, role=ROLE)),
    ("PATCH", "/api/users/{name}"): Op(
        "Change a user's role, password or disabled flag; their sessions end",
        {200: ok("the user", USER), 404: "no such user", 409: "refused (e.g. the last admin)",
         503: STORE_DOWN},
        body=obj((), extra=False, role=ROLE, password=STR, disabled=BOOL)),
    ("GET", "/api/tokens"): Op("Every bearer token's record, never the token", {
        200: ok("the tokens", obj(("tokens",), tokens=arr(TOKEN))), 503: STORE_DOWN}),
    ("POST", "/api/tokens"): Op(
        "Make a bearer token (shown once); an agent token acts for the agent `agent`",
        {201: ok("the record and the token", obj(("name", "role", "token"), name=STR,
                                                 role=ROLE, token=STR)),
         409: "the name is taken", 503: STORE_DOWN},
        body=obj(("name", "role"), extra=False, name=STR, role=ROLE, agent=STR)),
    ("DELETE", "/api/tokens/{name}"): Op("Revoke a bearer token", {
        204: NO_CONTENT, 404: "no such token", 409: "a token from the config file",
        503: STORE_DOWN}),
    ("GET", "/api/debug/calls"): Op("The calls in progress (--debug-api)", {
        200: ok("the calls", arr(ANY_OBJ))}),
    ("POST", "/api/debug/dial"): Op("Dial a SIP URI and play the demo prompt (--debug-api)", {
        200: ok("the call", ANY_OBJ), 201: ok("the call", ANY_OBJ),
        400: Reply("a bad field", DEBUG_ERROR),
        403: Reply("refused by the dial plan (a plain string), or below the admin role",
                   {"anyOf": [DEBUG_ERROR, ERROR_REF]}),
        502: Reply("the call could not be placed", DEBUG_ERROR),
        503: Reply("the call could not be placed", DEBUG_ERROR)},
        body={"type": "object", "required": ["uri"],
              "properties": {"uri": STR, "from": STR, "hangup_after": NUM}}),
    ("GET", "/api/debug/media"): Op("The media clock's health and SIP counters", {
        200: ok("figures", obj(("legs", "ticks"), legs=INT, ticks=INT))}),
    ("GET", "/api/debug/twilio"): Op("The Twilio Media Streams' figures", {
        200: ok("figures", ANY_OBJ)}),
    ("GET", "/metrics"): Op("Prometheus metrics", {
        200: Reply("the exposition format", None, "text/plain")}),
}
