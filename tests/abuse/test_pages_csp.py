"""Every page of the real server runs no inline script (issue 15 item 6).

Two views of the same promise. The walk GETs every route the server composes (as an admin
and anonymously) and, for each HTML answer, checks the CSP header (scripts from this origin
only: no 'unsafe-inline', 'unsafe-eval', data: or wildcard; frame-ancestors 'none'; a
Referrer-Policy) and the markup (no <script> without src, no on* event attribute, no
javascript: URL). Then headless Chromium opens each page that answered 200 and listens for
`securitypolicyviolation`: a page whose own script adds an inline handler or evaluates a
string at run time would be refused by the browser, and this catches it.
"""

from __future__ import annotations

import re
import wave
from collections.abc import AsyncIterator, Mapping
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from centralita.server import Server
from tests.helpers.chromium import chromium_context
from tests.web.conftest import TOKENS, bearer
from tests.web.test_hardening_json import base_of, in_process_settings
from web.auth import Role


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would refuse to run."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k.lower(): (v or "") for k, v in attrs}
        for name, value in named.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> inline event handler")
            if name in ("href", "src", "action", "formaction") and \
                    value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "script":
            kind = named.get("type", "").lower()
            self._inline_script = "src" not in named and kind not in (
                "application/json", "application/ld+json", "importmap")

    def handle_data(self, data: str) -> None:
        if self._inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inline_script = False


def csp_directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = [w.lower() for w in words[1:]]
    return out


def check_page_headers(headers: Mapping[str, str], where: str) -> None:
    csp = csp_directives(headers.get("Content-Security-Policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts, (where, csp)
    assert not {"'unsafe-inline'", "'unsafe-eval'", "data:", "*", "http:", "https:"} & set(
        scripts), (where, scripts)
    assert csp.get("object-src") == ["'none'"] or csp.get("default-src") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], (where, csp)
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where
    assert headers.get("X-Content-Type-Options") == "nosniff", where


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    running = Server(in_process_settings(tmp_path))
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


def get_paths(app: web.Application) -> list[str]:
    paths = []
    for route in app.router.routes():
        if route.method not in ("GET", "*") or route.resource is None:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.resource.canonical)
        if isinstance(route.resource, web.StaticResource):
            directory = route.resource.get_info()["directory"]
            paths += [f"{path}/{f.name}" for f in directory.iterdir() if f.suffix == ".html"]
        else:
            paths.append(path)
    return sorted(set(paths))


async def test_no_page_has_inline_script_and_the_browser_sees_no_violation(
    server: Server, tmp_path: Path
) -> None:
    assert server.app is not None
    base = base_of(server)
    pages: dict[str, int] = {}
    async with aiohttp.ClientSession() as http:
        for path in get_paths(server.app):
            for who in (bearer(Role.ADMIN), {}):
                async with http.get(base + path, headers=who) as resp:
                    if resp.content_type != "text/html":
                        continue
                    where = f"GET {path} -> {resp.status}"
                    check_page_headers(resp.headers, where)
                    finder = InlineFinder()
                    finder.feed(await resp.text())
                    assert not finder.problems, (where, finder.problems)
                    if who and resp.status == 200:
                        pages[path] = resp.status
    # The pages people use are all in the walk.
    assert {"/login", "/desk", "/supervisor"} <= set(pages), pages

    from playwright.async_api import async_playwright

    mic = tmp_path / "silence.wav"
    with wave.open(str(mic), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000)
    violations: list[str] = []
    async with async_playwright() as p, chromium_context(
        p, tmp_path / "profile", mic,
        extra_http_headers={"Authorization": f"Bearer {TOKENS[Role.ADMIN]}"},
    ) as context:
        page = await context.new_page()
        page.on("console", lambda m: violations.append(f"{page.url}: {m.text}")
                if "Content Security Policy" in m.text else None)
        await page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI"
            " + ' ' + e.sourceFile + ':' + e.lineNumber));")
        for path in sorted(pages):
            await page.goto(base + path, wait_until="load")
            await page.wait_for_timeout(800)  # the page's own scripts run and render
        found = list(violations)
        # The control: an inline script added at run time is refused, and seen here.
        await page.evaluate("() => { const s = document.createElement('script');"
                            " s.textContent = 'window.ran = 1'; document.body.append(s); }")
        await page.wait_for_timeout(300)
        assert await page.evaluate("() => window.ran === undefined")
    assert not found, (found, sorted(pages))
    assert any("script-src" in v or "default-src" in v for v in violations), violations
