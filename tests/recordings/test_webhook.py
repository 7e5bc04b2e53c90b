"""The recording webhook against a real aiohttp receiver on loopback that checks the
signature the way a customer's would: HMAC-SHA256 over "<timestamp>." + body with the shared
secret. The receiver refuses the first two deliveries (503), so the notice arrives on the
third, each attempt signed afresh."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import aiohttp
from aiohttp import web

from recordings.config import WebhookConfig
from recordings.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    RecordingWebhook,
    sign,
    verify,
)
from tests.helpers.webapp import start_app

SECRET = b"s3cret-shared-with-the-receiver"


class Receiver:
    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.attempts: list[tuple[str, str, bytes]] = []
        self.accepted: list[dict[str, Any]] = []
        self.got = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ts, sig = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]
        self.attempts.append((ts, sig, body))
        expected = "v1=" + hmac.new(SECRET, ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig):
            return web.Response(status=401)
        if len(self.attempts) <= self.refuse:
            return web.Response(status=503)
        self.accepted.append(json.loads(body))
        self.got.set()
        return web.Response(status=204)


async def test_signed_notice_is_retried_until_the_receiver_takes_it() -> None:
    receiver = Receiver(refuse=2)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner, base = await start_app(app, access_log=None)
    clock = [1_765_000_000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    try:
        async with aiohttp.ClientSession() as session:
            hook = RecordingWebhook(WebhookConfig(base + "/hook", SECRET, attempts=4), session,
                                    wall=lambda: clock[0], sleep=sleep)
            hook.notify({"event": "recording.saved", "recording_id": "ab12",
                         "interaction_id": 7, "duration": 12.5, "location": "2026/x.opus",
                         "status": "complete", "error": None})
            await asyncio.wait_for(receiver.got.wait(), 10)
            await hook.close()
    finally:
        await runner.cleanup()
    assert len(receiver.attempts) == 3 and slept == [1.0, 2.0]  # backoff doubles
    assert [a[0] for a in receiver.attempts] == ["1765000000", "1765000001", "1765000003"]
    event = receiver.accepted[0]
    assert {k: event[k] for k in ("event", "recording_id", "interaction_id", "duration",
                                  "location", "status", "error")} == {
        "event": "recording.saved", "recording_id": "ab12", "interaction_id": 7,
        "duration": 12.5, "location": "2026/x.opus", "status": "complete", "error": None}
    assert hook.sent == 1 and hook.failed == 0
    ts, sig, body = receiver.attempts[-1]
    assert verify(SECRET, ts, body, sig, now=clock[0])
    assert not verify(SECRET, ts, body + b" ", sig, now=clock[0])  # a changed body
    assert not verify(b"another secret, same length!!", ts, body, sig, now=clock[0])
    assert not verify(SECRET, ts, body, sig, now=clock[0] + 3600)  # a replay, an hour on
    assert sig == sign(SECRET, ts, body)


async def test_gives_up_after_the_configured_attempts() -> None:
    receiver = Receiver(refuse=99)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner, base = await start_app(app, access_log=None)

    async def sleep(seconds: float) -> None:
        return None

    try:
        async with aiohttp.ClientSession() as session:
            hook = RecordingWebhook(WebhookConfig(base + "/hook", SECRET, attempts=3), session,
                                    sleep=sleep)
            hook.notify({"event": "recording.failed", "recording_id": "cd34"})
            await asyncio.wait_for(hook.drain(), 10)
            await hook.close()
    finally:
        await runner.cleanup()
    assert len(receiver.attempts) == 3 and hook.failed == 1 and hook.sent == 0
