"""A signed webhook when a recording is saved or fails.

    hook = RecordingWebhook(config, session)     # aiohttp.ClientSession, owned by the caller
    hook.notify(event)                           # never blocks; queued for the sender task
    await hook.close()                           # waits for what is queued, then stops

The body is JSON: {"event": "recording.saved"|"recording.failed", "recording_id",
"interaction_id", "duration", "location", "status", "codec", "sha256", "error", "sent_at"}.
Never personal data: no caller number, nothing said.

Signature (the shape Stripe and Slack use, so receivers know it): header
`X-Centralita-Timestamp: <unix seconds>` and `X-Centralita-Signature: v1=<hex>` where hex is
HMAC-SHA256(secret, "<timestamp>." + body). The timestamp is signed too, so a receiver that
rejects old timestamps is safe from replays; `verify()` is the receiver's side.

Delivery: a 2xx ends it; anything else (a refused connection, a timeout, a 5xx or 4xx) is
retried with exponential backoff (1 s, 2 s, 4 s ... capped at 60 s) up to `attempts` tries,
each signed afresh with its own timestamp. Notices wait in a bounded queue
(`QUEUE_LIMIT`): when a receiver is down for long, the oldest are dropped and counted, the
calls never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from recordings.config import WebhookConfig

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000  # notices waiting for a slow receiver; past that the oldest go (counted)
TIMESTAMP_HEADER = "X-Centralita-Timestamp"
SIGNATURE_HEADER = "X-Centralita-Signature"
MAX_BACKOFF_S = 60.0


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, *,
           now: float, tolerance: float = 300.0) -> bool:
    """The receiver's check: the signature matches and the timestamp is recent."""
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


class RecordingWebhook:
    """Sends recording notices to one URL, signed, retried (see the module doc)."""

    def __init__(
        self, config: WebhookConfig, session: aiohttp.ClientSession, *,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        first_backoff: float = 1.0,
    ) -> None:
        self.config = config
        self.session = session
        self._wall = wall
        self._sleep = sleep
        self.first_backoff = first_backoff
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def notify(self, event: dict[str, Any]) -> None:
        """Queue `event` for delivery (the oldest is dropped when the queue is full)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._deliver(event)
            finally:
                self._queue.task_done()

    async def _deliver(self, event: dict[str, Any]) -> None:
        delay = self.first_backoff
        for attempt in range(1, self.config.attempts + 1):
            outcome = await self._post(event)
            if outcome is None:
                self.sent += 1
                return
            log.warning("recording webhook: attempt %d/%d for %s failed (%s)", attempt,
                        self.config.attempts, event.get("recording_id"), outcome)
            if attempt < self.config.attempts:
                await self._sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
        self.failed += 1
        log.error("recording webhook: gave up on %s after %d attempts",
                  event.get("recording_id"), self.config.attempts)

    async def _post(self, event: dict[str, Any]) -> str | None:
        """One signed POST; None when the receiver took it, else why not."""
        timestamp = str(int(self._wall()))
        body = json.dumps({**event, "sent_at": int(timestamp)}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(self.config.secret, timestamp, body)}
        try:
            async with self.session.post(self.config.url, data=body, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=10)) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__

    async def drain(self) -> None:
        """Wait until every queued notice was delivered or given up."""
        await self._queue.join()

    async def close(self, grace: float = 5.0) -> None:
        """Deliver what is queued (for up to `grace` seconds), then stop the sender."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), grace)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
