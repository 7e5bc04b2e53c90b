"""HTTP and WebSocket routes of the web chat (`channels.chat`).

    GET  /chat/widget.js (and /chat/*.js, *.css,  the widget: plain ES modules, no build  PUBLIC
         /chat/i18n/{en,es}.js)                   step; CORS-readable (module scripts)
    GET  /chat/softphone.js                       the desk's softphone, for "call us"   PUBLIC
    GET  /api/chat/ws                             the visitor's WebSocket               PUBLIC
    POST /api/cases/{id}/chat         {"body": text}       an agent's line to the visitor  agent
    POST /api/cases/{id}/chat/typing  {"active": bool}     the agent's typing indicator    agent

The widget's routes are PUBLIC (`web.auth.allow_anonymous`): a visitor has no login, their
signed visitor token (said in the socket's first frame, `channels.chat_tokens`) is their
authentication. The socket's Origin must be this server's own or one of
`chat.allowed_origins` (403 before the upgrade otherwise); its frames are
`channels.chat_protocol`. The chat history an agent reads is the case timeline
(`GET /api/cases/{id}`); who may read a case may chat on it (`web.case_access`).

Errors are JSON `{"error": {"code", "message", "where"?}}`: 400 a bad field, 404 a case the
viewer may not read, 409 the case has no open chat (`no_chat`), 503 storage unavailable.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import WSMsgType, hdrs, web

from cases.errors import CaseError, InvalidInput
from channels.base import Refused
from channels.chat import ChatService
from channels.chat_config import normalize_origin
from channels.chat_protocol import MAX_FRAME_BYTES
from channels.chat_session import ChatConversation
from web.auth import Role, allow_anonymous, require
from web.auth.service import AUTH
from web.case_http import OpenSockets, body_fields, error, from_case_error, public_view, readable

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "chat" / "static"
# "Call us" places its call with the agent desk's own WebRTC module: one file, two pages.
SOFTPHONE_JS = Path(__file__).parent / "common" / "static" / "softphone.js"
CHAT: web.AppKey[ChatService] = web.AppKey("chat_service", ChatService)
# The widget reconnects on its own, so a socket that went quiet can be dropped quickly:
# aiohttp pings every 25 s and closes a socket that does not answer within half of that.
HEARTBEAT_S = 25.0
# A socket must say hello soon after it opens; one that does not holds a slot for nothing.
HELLO_TIMEOUT_S = 10.0
CLOSE_FORGED = 4403
CLOSE_NO_HELLO = 4408


CHAT_SOCKETS: web.AppKey[OpenSockets] = web.AppKey("chat_sockets", OpenSockets)


def _origin_allowed(request: web.Request) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return True  # not a browser: the visitor token is all it has
    theirs = normalize_origin(origin)
    # Behind a TLS-terminating proxy (auth.cookie_secure) the browser sees https.
    auth = request.config_dict.get(AUTH)
    secure = request.secure or (auth is not None and auth.cookie_secure)
    ours = normalize_origin(f"{'https' if secure else 'http'}://{request.host}")
    allowed = request.app[CHAT].settings.allowed_origins
    return theirs is not None and (theirs == ours or theirs in allowed)


async def visitor_socket(request: web.Request) -> web.StreamResponse:
    """The widget's WebSocket (see the module doc and `channels.chat_session`)."""
    if not _origin_allowed(request):
        return error(403, "origin_not_allowed",
                      "this page's origin may not embed the chat (chat.allowed_origins)")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    sockets = request.app[CHAT_SOCKETS]
    sockets.add(ws)
    conversation = ChatConversation(request.app[CHAT], ws.send_str)
    try:
        while not ws.closed:
            timeout = HELLO_TIMEOUT_S if conversation.visitor is None else None
            try:
                msg = await ws.receive(timeout=timeout)
            except TimeoutError:
                await ws.close(code=CLOSE_NO_HELLO, message=b"say hello first")
                break
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    await conversation.handle(msg.data)
                except ConnectionResetError:
                    # The visitor left (page closed, network gone) while we wrote to them:
                    # what they said is stored; this is the socket's end, not an error.
                    log.info("chat socket: the visitor left while we wrote to it")
                    break
                if conversation.done:
                    await ws.close(code=CLOSE_FORGED, message=b"identity refused")
            elif msg.type == WSMsgType.ERROR:
                log.info("chat socket error: %s", type(ws.exception()).__name__)
                break
            else:  # CLOSE / CLOSING / CLOSED
                break
    finally:
        await conversation.close()
        sockets.discard(ws)
    return ws


async def agent_line(request: web.Request) -> web.Response:
    """An agent's chat line to the visitor(s) of the case: 201 with the stored message."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    body = await body_fields(request, {"body"})
    if isinstance(body, web.Response):
        return body
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        return error(400, "invalid_input", "required text", "body")
    try:
        view = await request.app[CHAT].agent_line(case_id, viewer.name, text)
    except InvalidInput as exc:
        return error(400, "invalid_input", exc.what, exc.where)
    except CaseError as exc:
        return from_case_error(exc)
    except Refused as exc:
        return error(409, exc.code, exc.reason)
    return web.json_response(public_view(view, case_id, public_id), status=201)


async def agent_typing(request: web.Request) -> web.Response:
    """The agent started or stopped typing on the case's chat: 204."""
    found = await readable(request, request.match_info["id"])
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    body = await body_fields(request, {"active"})
    if isinstance(body, web.Response):
        return body
    active = body.get("active")
    if not isinstance(active, bool):
        return error(400, "invalid_input", "must be true or false", "active")
    await request.app[CHAT].typing(case_id, "agent", active)
    return web.Response(status=204)


async def softphone(request: web.Request) -> web.FileResponse:
    """The desk's softphone module, for the widget's "call us" (public: it holds no data)."""
    return web.FileResponse(SOFTPHONE_JS, headers={"Content-Type": "text/javascript"})


async def _widget_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """The widget's files are loaded as module scripts by other sites' pages: CORS-readable
    by anyone (public files, no credentials) and not limited to same-origin embedding."""
    if request.path.startswith("/chat/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"


async def _close_sockets(app: web.Application) -> None:
    await app[CHAT_SOCKETS].close_all()


def add_chat_routes(app: web.Application, chat: ChatService) -> None:
    """Mount the widget, its socket and the agents' chat routes (needs
    `web.cases_api.add_case_routes` first: it shares its store and access rule)."""
    app[CHAT] = chat
    app[CHAT_SOCKETS] = OpenSockets()
    app.on_response_prepare.append(_widget_headers)
    app.on_shutdown.append(_close_sockets)
    allow_anonymous(app, app.router.add_get("/chat/softphone.js", softphone))
    allow_anonymous(app, app.router.add_static("/chat", STATIC_DIR))
    allow_anonymous(app, app.router.add_get("/api/chat/ws", visitor_socket))
    require(app, app.router.add_post("/api/cases/{id}/chat", agent_line), Role.AGENT)
    require(app, app.router.add_post("/api/cases/{id}/chat/typing", agent_typing), Role.AGENT)
