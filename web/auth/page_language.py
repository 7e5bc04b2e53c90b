"""The language a signed-in user chose for their pages, on every page they open.

A user keeps a language in their settings (`PUT /api/me/language`, `web.auth.store`); each
HTML page the server sends them is then marked with it (`<html lang="es"
data-user-language="es">`), and each page's catalogue picker (`pickLanguage` in the pages'
`i18n.js`) takes it before the browser's languages: the same person gets Spanish on the
desk, the supervisor's and the review page, on any computer. `?lang=` still wins for one
page. A user with no choice, a token, or an anonymous page get the page as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from web.auth.service import AUTH, PRINCIPAL, Principal

_MARK = b'<html lang="en">'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def page_language(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not isinstance(response, web.Response) or response.content_type != "text/html" \
            or not isinstance(response.body, bytes) or _MARK not in response.body:
        return response
    who = request.get(PRINCIPAL)
    auth = request.config_dict.get(AUTH)
    if not isinstance(who, Principal) or who.via != "session" or auth is None:
        return response
    language = await auth.users.language(who.name)
    if language is None:
        return response
    mark = f'<html lang="{language}" data-user-language="{language}">'.encode()
    response.body = response.body.replace(_MARK, mark, 1)
    return response
