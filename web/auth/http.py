"""JSON errors, cookie names and security headers shared by the web layer.

`security_headers(content_type)` is the one source of the headers every response carries
(`web.app` sets them on each response that did not set its own): no MIME sniffing, no
framing by any site, no referrer beyond this one, and a Content-Security-Policy that lets a
page load from this origin only (`PAGE_CSP`) and lets anything else (JSON, scripts, styles,
errors) load nothing at all (`RESOURCE_CSP`), so a response opened on its own runs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

SESSION_COOKIE = "centralita_session"
CSRF_HEADER = "X-CSRF-Token"

# Scripts, styles and connections from this origin only (no inline script: the login page's
# script is its own document); no plugins, no <base> rewriting, no framing, forms post here.
PAGE_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
RESOURCE_CSP = "default-src 'none'; frame-ancestors 'none'"
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    # frame-ancestors for browsers that predate CSP 2.
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def security_headers(content_type: str) -> dict[str, str]:
    """The security headers of a response with `content_type` (see module doc)."""
    csp = PAGE_CSP if content_type == "text/html" else RESOURCE_CSP
    return {"Content-Security-Policy": csp, **_ALWAYS}


def json_error(
    status: int,
    code: str,
    message: str,
    *,
    where: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """`{"error": {"code", "message", "where"?}}` with `status`."""
    body: dict[str, str] = {"code": code, "message": message}
    if where is not None:
        body["where"] = where
    return web.json_response({"error": body}, status=status, headers=headers)
