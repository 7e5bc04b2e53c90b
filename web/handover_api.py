"""HTTP routes of handover (`channels.handover`): continue a contact by SMS, email or chat.

    GET  /chat/continue?t=TOKEN          the customer's link: the chat widget on their     PUBLIC
                                         case, or a page saying why it opens nothing
    GET  /api/cases/{id}/handover        the draft: {"text", "link", "channels",           agent
         ?interaction=IID                "language", "interaction_id"}
    POST /api/cases/{id}/handover        {"channel": sms|whatsapp|email|chat,              agent
                                         "text"?: edited text, "to"?: address,
                                         "via"?: sms|whatsapp|email (chat's carrier)}
                                         201 {"channel", "message", "link"}

`/chat/continue` is PUBLIC: the signed token is its authentication. A refused link answers a
small page in the customer's words with 403 (malformed or tampered) or 410 (expired, or the
case closed); nothing is joined and nothing is stored. The page never lets the token leave
(Referrer-Policy no-referrer, not cached). A valid link answers the page with the widget, given
a visitor token that is joined to the case's customer (`Handover.open`).

Send errors as the messaging routes: 400 a bad field (`where`), 404 a case the agent may not
read, 409 `Refused` (`code`: opted_out, not_configured, case_closed...), 502 the provider
refused or could not be reached.
"""

from __future__ import annotations

import logging
from html import escape

from aiohttp import web

from cases.errors import CaseError, InvalidInput
from channels.base import Refused, SendFailed
from channels.handover import CHANNELS, Handover
from channels.handover_tokens import LinkRefused
from web.auth import Role, allow_anonymous, require
from web.case_http import body_fields, error, from_case_error, public_view, readable

log = logging.getLogger(__name__)

HANDOVER: web.AppKey[Handover] = web.AppKey("handover", Handover)
_STATUS = {"malformed": 403, "tampered": 403, "expired": 410, "closed": 410}
_PAGE_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "connect-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title></head>
<body><main id="handover" data-state="{state}"><h1>{title}</h1><p id="reason">{message}</p></main>
{script}</body></html>
"""


def _page(status: int, state: str, title: str, message: str, script: str = "") -> web.Response:
    html = _PAGE.format(lang="en", state=escape(state), title=escape(title),
                        message=escape(message), script=script)
    return web.Response(status=status, text=html, content_type="text/html",
                        headers=_PAGE_HEADERS)


async def continue_page(request: web.Request) -> web.Response:
    """The customer's link (see the module doc)."""
    token = request.query.get("t", "")
    try:
        opened = await request.app[HANDOVER].open(token)
    except LinkRefused as exc:
        log.info("handover link refused: %s", exc.code)
        return _page(_STATUS[exc.code], exc.code, "This link cannot be opened", exc.reason)
    except Refused as exc:
        return _page(503, exc.code, "Chat unavailable", exc.reason)
    except CaseError:
        log.exception("handover link: the case store failed")
        return _page(503, "unavailable", "Chat unavailable",
                     "We cannot open the chat right now. Please try again in a minute.")
    script = (f'<script type="module" src="/chat/widget.js" '
              f'data-visitor-token="{escape(opened.visitor_token)}"></script>')
    return _page(200, "open", "Continue your conversation",
                 "We have what you told us: write below and we continue from there.", script)


async def get_draft(request: web.Request) -> web.Response:
    """The outgoing text (the summary's short text) and a fresh link for the agent to edit."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    raw = request.query.get("interaction")
    interaction: int | None = None
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            return error(400, "invalid_input", "an interaction id (an integer)", "interaction")
        interaction = int(raw)
    handover = request.app[HANDOVER]
    try:
        draft = await handover.draft(case_id, interaction_id=interaction,
                                     base_url=_origin(request))
    except CaseError as exc:
        return from_case_error(exc)
    except Refused as exc:
        return error(409, exc.code, exc.reason)
    return web.json_response({"text": draft.text, "link": draft.link,
                              "language": draft.language, "interaction_id": draft.interaction_id,
                              "channels": handover.channels()})


async def send(request: web.Request) -> web.Response:
    """Send the handover from the case (see the module doc)."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    body = await body_fields(request, {"channel", "text", "to", "via"})
    if isinstance(body, web.Response):
        return body
    channel = body.get("channel")
    if channel not in CHANNELS:
        return error(400, "invalid_input", f"one of {', '.join(CHANNELS)}", "channel")
    for name in ("text", "to", "via"):
        if body.get(name) is not None and not isinstance(body.get(name), str):
            return error(400, "invalid_input", "text", name)
    try:
        sent = await request.app[HANDOVER].send(
            case_id, channel, body.get("text"), to=body.get("to"), via=body.get("via"),
            base_url=_origin(request), agent=viewer.name)
    except Refused as exc:
        return error(409, exc.code, exc.reason)
    except SendFailed as exc:
        return error(502, "send_failed", str(exc))
    except InvalidInput as exc:
        return error(400, "invalid_input", exc.what, exc.where)
    except CaseError as exc:
        return from_case_error(exc)
    log.info("agent %s continued case %s by %s", viewer.name, public_id, sent.channel)
    return web.json_response({"channel": sent.channel, "link": sent.link,
                              "message": public_view(sent.message, case_id, public_id)},
                             status=201)


def _origin(request: web.Request) -> str:
    """This server as the agent's browser reaches it (used when no public URL is set)."""
    return f"{request.scheme}://{request.host}"


def add_handover_routes(app: web.Application, handover: Handover) -> None:
    """Mount the link page (PUBLIC, token-checked) and the agents' draft and send routes
    (needs `web.cases_api.add_case_routes` first: it shares its store and access rule)."""
    app[HANDOVER] = handover
    allow_anonymous(app, app.router.add_get("/chat/continue", continue_page))
    require(app, app.router.add_get("/api/cases/{id}/handover", get_draft), Role.AGENT)
    require(app, app.router.add_post("/api/cases/{id}/handover", send), Role.AGENT)
