"""The ACD and the people working it: queues, agents and their states, live view, figures,
callbacks; the agent desk; the supervisor's page, wallboard, history and call monitoring
(`web.routing_api`, `web.desk.api`, `web.supervisor.api`, `web.monitor_api`)."""

from __future__ import annotations

from web.openapi.model import (
    ANY_OBJ,
    HTML,
    INT,
    NO_CONTENT,
    NUM,
    STR,
    TIME_PARAM,
    Op,
    Reply,
    Schema,
    arr,
    nullable,
    obj,
    ok,
)

TAG = "routing"

# Queue and agent bodies are `routing.config`'s dicts: absent keys take the defaults.
QUEUE = obj((), name=STR, channels=arr(STR), skills=arr(STR))
AGENT = obj((), id=STR, skills=ANY_OBJ, languages=arr(STR))
QUEUE_VIEW = obj(("name", "channels", "strategy", "skills"), name=STR, channels=arr(STR),
                 strategy=STR, skills=arr(STR), language=nullable(STR))
AGENT_VIEW = obj(("id", "name", "queues", "skills", "languages"), id=STR, name=STR,
                 queues=arr(STR), skills=ANY_OBJ, languages=arr(STR))
STATUS = obj(("agent", "state", "since"), agent=STR, state=STR, since=NUM, active=INT,
             reason=nullable(STR))
QUEUE_FIGURES = obj(("offered", "answered", "abandoned", "waiting", "service_level"),
                    offered=INT, answered=INT, abandoned=INT, waiting=INT)
FIGURES = {"since": TIME_PARAM, "until": TIME_PARAM}
BAD_QUERY = "`invalid_parameter` (`where` like query.since)"
BAD_CONFIG = "`invalid_body` or `invalid_config` (`where` like body.overflow.kind)"
PLAIN = Reply("not a WebSocket handshake", None, "text/plain")
UPGRADE = Reply("switching to the WebSocket", None, None)
STATIC: dict[int, Reply | str] = {
    200: Reply("the file", None, None),
    403: Reply("not a file", None, "text/plain"),
    404: Reply("no such file", None, "text/plain"),
}
MONITOR_ERRORS: dict[int, Reply | str] = {
    400: "a bad field (`where` names it)",
    404: "no such call in progress",
    409: "refused now (`code` says why: already_monitoring, not_monitoring...)",
    503: "no media resources",
}
STATE: Schema = {"enum": ["available", "break", "offline"]}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/queues"): Op("Every queue", {
        200: ok("the queues", obj(("queues",), queues=arr(QUEUE_VIEW)))}),
    ("POST", "/api/queues"): Op("Create a queue", {
        201: ok("the queue", QUEUE_VIEW), 400: BAD_CONFIG, 409: "`exists`"}, body=QUEUE),
    ("GET", "/api/queues/{name}"): Op("One queue", {
        200: ok("the queue", QUEUE_VIEW), 404: "no such queue"}),
    ("PUT", "/api/queues/{name}"): Op("Create (201) or replace (200) a queue", {
        200: ok("replaced", QUEUE_VIEW), 201: ok("created", QUEUE_VIEW), 400: BAD_CONFIG,
        404: "not a name a queue can have",
        409: "`in_use` or `conflict`: the engine refuses it now"}, body=QUEUE),
    ("DELETE", "/api/queues/{name}"): Op("Delete a queue", {
        204: NO_CONTENT, 404: "no such queue",
        409: "`in_use` (others refer to it) or `conflict` (callers wait in it)"}),
    ("GET", "/api/queues/{name}/figures"): Op("A queue's service figures over a period", {
        200: ok("the figures", QUEUE_FIGURES), 400: BAD_QUERY, 404: "no such queue"},
        query=FIGURES),
    ("GET", "/api/agents"): Op("Every agent", {
        200: ok("the agents", obj(("agents",), agents=arr(AGENT_VIEW)))}),
    ("POST", "/api/agents"): Op("Create an agent", {
        201: ok("the agent", AGENT_VIEW), 400: BAD_CONFIG, 409: "`exists`"}, body=AGENT),
    ("GET", "/api/agents/{id}"): Op("One agent with its live status (an agent: only "
                                    "themselves)", {
        200: ok("the agent and its live status (null before the engine knows it)",
                AGENT_VIEW), 404: "no such agent"}),
    ("PUT", "/api/agents/{id}"): Op("Create (201) or replace (200) an agent", {
        200: ok("replaced", AGENT_VIEW), 201: ok("created", AGENT_VIEW), 400: BAD_CONFIG,
        404: "not an id an agent can have",
        409: "`conflict`: the engine refuses it now"}, body=AGENT),
    ("DELETE", "/api/agents/{id}"): Op("Delete an agent", {
        204: NO_CONTENT, 404: "no such agent", 409: "`conflict`: busy now"}),
    ("PUT", "/api/agents/{id}/state"): Op(
        "Set an agent's state (an agent: only their own)",
        {200: ok("the status", STATUS), 404: "no such agent",
         409: "`illegal_state`: not a move the agent can make now"},
        body=obj(("state",), extra=False, state=STATE, reason=STR)),
    ("GET", "/api/agents/{id}/figures"): Op("An agent's figures over a period", {
        200: ok("the figures", ANY_OBJ), 400: BAD_QUERY, 404: "no such agent"},
        query=FIGURES),
    ("GET", "/api/routing/live"): Op("Queues and agents right now", {
        200: ok("the live view", obj(("queues", "agents"), queues=ANY_OBJ, agents=ANY_OBJ))}),
    ("GET", "/api/callbacks"): Op("Callbacks, by state (all if none given)", {
        200: ok("the callbacks", obj(("callbacks",), callbacks=arr(ANY_OBJ))),
        400: BAD_QUERY},
        query={"state": {"type": "string", "maxLength": 80}}),
    ("DELETE", "/api/callbacks/{id}"): Op("Cancel a callback", {
        204: NO_CONTENT, 400: "a malformed id", 404: "no such callback",
        409: "`illegal_state`: being dialed or done"}),
    ("GET", "/desk"): Op("The agent desk page", {200: HTML}),
    ("GET", "/desk/static/{filename}"): Op("The desk's modules and style sheet", STATIC),
    ("GET", "/common/static/{filename}"): Op(
        "The modules and style sheet the desk, supervisor and review pages share (web.common)",
        STATIC),
    ("GET", "/api/desk/ws"): Op("The desk's WebSocket (web.desk.protocol)", {
        101: UPGRADE, 400: PLAIN}),
    ("GET", "/supervisor"): Op("The supervisor's page", {200: HTML}),
    ("GET", "/supervisor/static/{filename}"): Op("The supervisor page's files", STATIC),
    ("GET", "/api/supervisor/ws"): Op("The live wallboard: a snapshot, then deltas", {
        101: UPGRADE, 400: PLAIN}),
    ("GET", "/api/supervisor/history"): Op(
        "Figures per queue, agent, hour and day over a period (JSON, or CSV)",
        {200: Reply("the figures (text/csv with format=csv)", ANY_OBJ),
         400: BAD_QUERY, 503: "the history store is unavailable"},
        query={**FIGURES, "format": {"enum": ["json", "csv"]}}),
    ("POST", "/api/calls/{call_id}/monitor"): Op(
        "Listen to, whisper to or barge into a call with a WebRTC offer",
        {201: ok("the answer", obj(("sdp", "mode"), sdp=STR, mode=STR)), **MONITOR_ERRORS},
        body=obj(("mode", "sdp"), extra=False, mode={"enum": ["listen", "whisper", "barge"]},
                 sdp=STR)),
    ("PATCH", "/api/calls/{call_id}/monitor"): Op(
        "Switch the monitoring mode",
        {200: ok("the mode", obj(("mode",), mode=STR)), **MONITOR_ERRORS},
        body=obj(("mode",), extra=False, mode={"enum": ["listen", "whisper", "barge"]})),
    ("DELETE", "/api/calls/{call_id}/monitor"): Op("Stop monitoring the call", {
        204: NO_CONTENT, **MONITOR_ERRORS}),
    ("POST", "/api/calls/{call_id}/parties"): Op(
        "Add a party (an agent, a number through the dial plan, or a queue) to the call",
        {201: ok("the party", obj(("party", "mode"), mode=STR)), **MONITOR_ERRORS},
        body={"oneOf": [obj(("agent",), extra=False, agent=STR),
                        obj(("number",), extra=False, number=STR),
                        obj(("queue",), extra=False, queue=STR)]}),
}
