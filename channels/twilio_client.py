"""The real `twilio.rest.Client`, on an asyncio HTTP client whose base URL is configurable.

Why `AsyncTwilioHttpClient` and not the default (requests, blocking) client in a thread: the
server is one asyncio process, and a send is one short HTTPS request. The async client keeps
it on the event loop with one pooled aiohttp session the server owns and closes, where the
sync client would hold a worker thread (and a requests pool) per message in flight, and a
stuck Twilio would exhaust the thread pool the case store shares. The twilio package's own
`create_async` builds and parses the REST calls, so what goes on the wire is the SDK's.

`RebasedHttpClient` only rewrites the origin `https://api.twilio.com` to `api_base_url`
(a test's loopback stand-in, or a corporate egress proxy), turns the SDK's float timeout
into aiohttp's `ClientTimeout`, and logs nothing: the SDK logs request URLs and response
headers at INFO, and message bodies and numbers stay out of logs (STYLE.md §12).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from channels.base import SendFailed
from channels.twilio_config import DEFAULT_API_BASE_URL, TwilioConfig

TWILIO_ORIGIN = DEFAULT_API_BASE_URL
_quiet = logging.getLogger("channels.twilio.http")
_quiet.setLevel(logging.WARNING)


class RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # untyped SDK
    """`AsyncTwilioHttpClient` sending what the SDK addresses to Twilio's API to `base_url`."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_quiet)
        self.base_url = base_url.rstrip("/")

    # The SDK calls it with `timeout`: its signature, not ours to choose.
    async def request(
        self, method: str, url: str, params: dict[str, object] | None = None,
        data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        allow_redirects: bool = False,
    ) -> Any:
        if url.startswith(TWILIO_ORIGIN + "/"):
            url = self.base_url + url[len(TWILIO_ORIGIN):]
        seconds = timeout if timeout is not None else self.timeout
        assert self.session is not None
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        response = await self.session.request(
            method.upper(), url, params=params, data=data, headers=headers,
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=allow_redirects,
        )
        async with response:
            return Response(response.status, await response.text(), response.headers)


@dataclass(frozen=True)
class Created:
    """What Twilio answered to a new message: its MessageSid, status and SMS parts."""

    sid: str
    status: str
    num_segments: int | None


class TwilioRest:
    """Creates messages through the SDK's `Client` (one per server, closed with it)."""

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config
        self.http = RebasedHttpClient(config.api_base_url, timeout=config.send_timeout)
        self.client = Client(config.account_sid, config.auth_token, http_client=self.http)

    async def create(self, *, to: str, body: str, from_: str | None,
                     messaging_service_sid: str | None, status_callback: str) -> Created:
        """POST a message; `SendFailed` with Twilio's error code, or when unreachable."""
        kwargs: dict[str, object] = {"to": to, "body": body, "status_callback": status_callback}
        if messaging_service_sid is not None:
            kwargs["messaging_service_sid"] = messaging_service_sid
        if from_ is not None:
            kwargs["from_"] = from_
        messages = self.client.api.v2010.accounts(self.config.account_sid).messages
        try:
            created = await messages.create_async(**kwargs)  # type: ignore[arg-type]
        except TwilioRestException as exc:
            raise SendFailed(f"Twilio refused the message (error {exc.code}): {exc.msg}",
                             code=None if exc.code is None else str(exc.code)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendFailed(f"Twilio could not be reached ({type(exc).__name__})") from exc
        if not created.sid:
            raise SendFailed("Twilio answered without a message id")
        segments = created.num_segments
        return Created(str(created.sid), str(created.status or "queued"),
                       int(segments) if segments and str(segments).isascii()
                       and str(segments).isdigit() else None)

    async def close(self) -> None:
        await self.http.close()
