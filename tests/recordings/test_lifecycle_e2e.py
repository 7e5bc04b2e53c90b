"""A recorded call's life after hangup in the real server: a pjsua2 caller talks to
`centralita serve` with `recordings: {enabled: true, webhook: ...}`. The WAV becomes Opus
(verified, then the WAV removed), the signed webhook reaches a real aiohttp receiver on
loopback that checks the signature, and the review API serves the Opus file to an admin
(with Range) while an agent who did not handle the call gets 403, audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from recordings.compress import decoded_duration
from tests.conftest import ServerFactory
from tests.helpers.databases import query_rows
from tests.helpers.server import ServerOptions
from tests.helpers.webapp import start_app
from tests.recordings.test_recorded_calls import caller_signal, wait_row
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow
SECRET = b"the-webhook-secret-for-this-test"
AGENT_TOKEN = "ctk_tests_agent_ana_" + "y" * 32


async def test_call_is_compressed_notified_and_served_by_role(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers["X-Centralita-Timestamp"]
        expected = "v1=" + hmac.new(SECRET, ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers["X-Centralita-Signature"]):
            return web.Response(status=401)
        received.append(json.loads(body))
        arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner, base = await start_app(app, access_log=None)
    (tmp_path / "hook.secret").write_bytes(SECRET)
    (tmp_path / "ana.token").write_text(AGENT_TOKEN)
    caller_signal(tmp_path / "caller.wav", 5.0)
    try:
        server = await server_factory(ServerOptions(demo_hangup_after=60, config={
            "transcription": "off",
            "recordings": {"enabled": True, "webhook": {
                "url": base + "/hook", "secret_file": str(tmp_path / "hook.secret")}},
            "auth": {"tokens": [{"name": "ana", "role": "agent",
                                 "token_file": str(tmp_path / "ana.token")}]}}))
        result = await place_call(f"sip:100@{server.sip_target}", play=tmp_path / "caller.wav",
                                  from_user="+15550104", duration=5.0, answer_timeout=10)
        assert result.connected, result
        await asyncio.wait_for(arrived.wait(), 30)
    finally:
        await runner.cleanup()
    row = await wait_row(server, "complete")
    event = received[0]
    assert event["event"] == "recording.saved" and event["recording_id"] == row["id"]
    assert event["status"] == "complete" and event["codec"] == "opus"
    assert event["location"] == row["location"] and event["duration"] == row["duration"]
    assert "+15550104" not in json.dumps(event)
    root = server.data_dir / "recordings"
    opus = root / row["location"]
    assert row["codec"] == "opus" and opus.suffix == ".opus"
    assert not list(root.rglob("*.wav"))  # removed once the Opus file was verified
    assert row["sha256"] == hashlib.sha256(opus.read_bytes()).hexdigest()
    assert decoded_duration(opus) == pytest.approx(row["duration"], abs=0.1)

    api = f"{server.http_base}/api/recordings/{row['id']}"
    async with aiohttp.ClientSession() as http:
        ana = {"Authorization": f"Bearer {AGENT_TOKEN}"}
        async with http.get(api, headers=ana) as resp:
            assert resp.status == 403
        async with http.get(api + "/audio", headers=ana) as resp:
            assert resp.status == 403
        async with http.get(api + "/audio", headers={**server.auth_headers,
                                                     "Range": "bytes=0-999"}) as resp:
            assert resp.status == 206 and resp.headers["Content-Type"] == "audio/ogg"
            assert await resp.read() == opus.read_bytes()[:1000]
    audit = query_rows(server.database_url,
                       "SELECT actor, role, action, result, status FROM recording_audit "
                       "WHERE recording_id = :id ORDER BY id", id=row["id"])
    assert [tuple(a.values()) for a in audit] == [
        ("token:ana", "agent", "read", "forbidden", 403),
        ("token:ana", "agent", "play", "forbidden", 403),
        ("token:tests", "admin", "play", "ok", 206)]
