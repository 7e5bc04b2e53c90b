"""What the desk, supervisor and review pages share, served once at ``/common/static/``.

    static/i18n.js       the page's language (?lang=, the user's setting, this browser's
                         choice, the browser's languages) and a translator over the page's own
                         catalogues (`catalogues({en, es})`: t, translatePage, locale)
    static/dom.js        $, h (data always as text, never markup), text, show, times
    static/api.js        REST with the session's CSRF token, JSON answers, who am I
    static/socket.js     a page's WebSocket: JSON, app-level ping, reconnect with backoff
    static/sentiment.js  a sentiment score's level and a trend drawn as marks
    static/nav.js        the link to the review page, worded for the user's role
    static/softphone.js  the browser side of a WebRTC call (the desk, the supervisor, the chat
                         widget's "call us", which web.chat_api serves at /chat/softphone.js)
    static/common.css    the pages' colours, the trend and the header's links

Each page mounts it with `add_common_static(app)`; the first call mounts it, the others find
it there. Every signed-in role may read it (the pages' own files keep their roles).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.auth import Role, require

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/common/static"
_MOUNTED: web.AppKey[bool] = web.AppKey("common_static_mounted", bool)


def add_common_static(app: web.Application) -> None:
    """Serve ``/common/static/{file}`` on `app` to every signed-in user (once per app)."""
    if app.get(_MOUNTED, False):
        return
    app[_MOUNTED] = True
    require(app, app.router.add_static(PREFIX, STATIC_DIR), Role.AGENT)


__all__ = ["PREFIX", "STATIC_DIR", "add_common_static"]
