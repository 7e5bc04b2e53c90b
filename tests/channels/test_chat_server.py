"""The web chat as `centralita serve` runs it: a `chat:` section in a real config file, the
composition root (`centralita.server.Server`, in process, on loopback) serving the widget's
modules (CORS-readable, JavaScript, the security headers) and the visitor's socket without a
login, refusing a foreign Origin; the visitor key 0600 in the data dir; the site secret read
from its file; a silent socket closed after the hello timeout."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType
from yarl import URL

import web.chat_api
from centralita.server import Server
from centralita.settings import load_settings
from channels.chat_tokens import KEY_FILE, user_hash
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import loopback_config

SITE_SECRET = "the-shops-secret-for-its-users-0123456789"


def config_file(tmp_path: Path) -> Path:
    (tmp_path / "site.key").write_text(SITE_SECRET + "\n")
    config = tmp_path / "centralita.yaml"
    config.write_text(loopback_config(tmp_path / "data") + f"""chat:
  allowed_origins: ["https://shop.example.com"]
  site_secret_files: ["{tmp_path / 'site.key'}"]
  rate: {{lines: 2, per_seconds: 60}}
""")
    return config


async def test_serve_offers_the_widget_and_its_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_database: ServerDatabase
) -> None:
    monkeypatch.setattr(web.chat_api, "HELLO_TIMEOUT_S", 0.5)
    settings = load_settings(config_file(tmp_path), {})
    settings.cases_url = server_database.config().get("cases_url")
    server = Server(settings)
    await server.start()
    base = f"http://{settings.http_listen}"
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/chat/widget.js", "/chat/socket.js", "/chat/i18n/es.js",
                         "/chat/widget.css", "/chat/call.js", "/chat/softphone.js"):
                async with http.get(base + path,
                                    headers={"Origin": "https://shop.example.com"}) as resp:
                    assert resp.status == 200, path
                    assert resp.headers["Access-Control-Allow-Origin"] == "*"
                    assert resp.headers["X-Content-Type-Options"] == "nosniff"
                    assert resp.content_type in ("text/javascript", "application/javascript",
                                                 "text/css")
            escape = URL(base + "/chat/%2e%2e/%2e%2e/channels/chat.py", encoded=True)
            async with http.get(escape, allow_redirects=False) as resp:
                assert resp.status in (302, 403, 404)  # 302: to the login page
                assert "ChatService" not in await resp.text()

            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await http.ws_connect(base + "/api/chat/ws",
                                      headers={"Origin": "https://evil.example.net"})
            assert caught.value.status == 403

            ws = await http.ws_connect(base + "/api/chat/ws",
                                       headers={"Origin": "https://shop.example.com"})
            await ws.send_json({"type": "hello", "user_id": "u-7",
                                "user_hash": user_hash(SITE_SECRET.encode(), "u-7")})
            welcome = json.loads((await ws.receive(timeout=5)).data)
            assert welcome["type"] == "welcome" and welcome["identified"] is True
            for n in range(3):  # the configured rate: 2 lines a minute
                await ws.send_json({"type": "message", "id": f"l{n}", "body": "hola"})
            codes: list[str] = []
            while len(codes) < 3:
                frame = json.loads((await ws.receive(timeout=5)).data)
                if frame["type"] in ("receipt", "error"):
                    codes.append(frame.get("code", "stored"))
            assert codes == ["stored", "stored", "rate_limited"]
            await ws.close()

            silent = await http.ws_connect(base + "/api/chat/ws")
            closing = await silent.receive(timeout=5)
            assert closing.type == WSMsgType.CLOSE and closing.data == 4408
        key = settings.data_dir / KEY_FILE
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    finally:
        await server.stop()
