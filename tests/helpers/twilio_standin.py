"""A loopback stand-in for Twilio's Messages API, for the real `twilio` client to talk to.

Twilio's hosts cannot be reached from here, so this is the one stand-in the messaging tests
use (DESIGN.md: mocks only for services that cannot be reached). It implements what the SDK
calls and what Twilio calls back:

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: checks HTTP basic auth (the
  account SID and auth token), records the request, answers 201 like Twilio (a new
  `SM...` sid, status `queued`, `num_segments`), then sends SIGNED status callbacks to the
  request's `StatusCallback` (its public URL rewritten to where our server really listens):
  `sent`, then `delivered` (or the `final_status` a test sets, with an `ErrorCode`).
  `refuse_next(code, message)` makes the next create fail as Twilio does (HTTP 400 + JSON).
- `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` (Twilio Voice call control:
  `Status=completed`, `Twiml`, `Url`): checks basic auth, records it in `call_updates`,
  answers 200 with the call resource as Twilio does (or the `refuse_next` error).
- `GET /media/{name}`: media files a test registered with `add_media`, as MMS media URLs.
- `sign(url, params)`: `X-Twilio-Signature` computed with the twilio package's own
  `RequestValidator.compute_signature`; `post_webhook` posts a signed inbound webhook.

Use as `async with TwilioStandIn(account_sid, auth_token) as twilio:`; `twilio.base_url` goes
into the server's `twilio.api_base_url`, `twilio.forward(public_url, server_base)` tells it
where callbacks for `public_url` really go.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from channels.sms_segments import count_segments


@dataclass
class Recorded:
    """One REST request the stand-in received: the form fields and the answer's sid."""

    account_sid: str
    form: dict[str, str]
    sid: str | None
    status: int


@dataclass
class Callback:
    """One status callback the stand-in sent, and what our server answered."""

    sid: str
    status: str
    http_status: int


@dataclass
class _Media:
    data: bytes
    content_type: str


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    host: str = "127.0.0.1"
    #: Status after "sent": delivered, or undelivered / failed with `final_error`.
    final_status: str = "delivered"
    final_error: str | None = None
    callback_delay: float = 0.0
    #: Seconds the REST answer is held back while the callbacks already go out (Twilio
    #: queues a message before it answers: its callbacks can overtake the answer).
    answer_delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    call_updates: list[Recorded] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    _media: dict[str, _Media] = field(default_factory=dict)
    _forward: dict[str, str] = field(default_factory=dict)
    _refuse: list[tuple[int, str]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> TwilioStandIn:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Calls/{call}.json", self._update_call)
        app.router.add_get("/media/{name}", self._serve_media)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        self.port = sockets[0].getsockname()[1]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def drain(self) -> None:
        """Wait until every status callback scheduled so far was sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- what tests set up -------------------------------------------------------------------

    def forward(self, public_url: str, server_base: str) -> None:
        """Callbacks to URLs under `public_url` are posted to `server_base` instead (the
        server behind its proxy), still signed over the public URL."""
        self._forward[public_url.rstrip("/")] = server_base.rstrip("/")

    def refuse_next(self, code: int, message: str) -> None:
        """The next create answers HTTP 400 with Twilio's error `code`."""
        self._refuse.append((code, message))

    def add_media(self, name: str, data: bytes, content_type: str) -> str:
        """Serve `data` at a media URL on this host; returns the URL."""
        self._media[name] = _Media(data, content_type)
        return f"{self.base_url}/media/{name}"

    # -- signing -----------------------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
        """Twilio's X-Twilio-Signature for a request to `url` with form `params`."""
        validator = RequestValidator(self.auth_token)
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        merged: dict[str, list[str]] = {}
        for key, value in pairs:
            merged.setdefault(key, []).append(value)
        return str(validator.compute_signature(url, _Multi(merged)))

    def real_url(self, public: str) -> str:
        for prefix, base in self._forward.items():
            if public.startswith(prefix):
                return base + public[len(prefix):]
        return public

    async def post_webhook(
        self, public_url: str, params: Mapping[str, str] | Sequence[tuple[str, str]], *,
        signature: str | None = "sign", body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str]:
        """POST a webhook as Twilio would: form `params` (or raw `body`), signed over
        `public_url` unless `signature` is given (None: no header at all)."""
        assert self._session is not None
        sent_headers = {"Content-Type": "application/x-www-form-urlencoded",
                        **(headers or {})}
        if signature == "sign":
            signature = self.sign(public_url, params)
        if signature is not None:
            sent_headers["X-Twilio-Signature"] = signature
        data = body if body is not None else urlencode(
            list(params.items()) if isinstance(params, Mapping) else list(params)).encode()
        async with self._session.post(self.real_url(public_url), data=data,
                                      headers=sent_headers) as response:
            return response.status, await response.text()

    # -- the REST resource -------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        auth = request.headers.get("Authorization", "")
        try:
            basic = aiohttp.BasicAuth.decode(auth)
        except ValueError:
            basic = None
        if basic is None or (basic.login, basic.password) != (self.account_sid, self.auth_token) \
                or sid != self.account_sid:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401},
                                     status=401)
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if self._refuse:
            code, message = self._refuse.pop(0)
            self.requests.append(Recorded(sid, form, None, 400))
            return web.json_response({"code": code, "message": message, "status": 400,
                                      "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                                     status=400)
        message_sid = "SM" + secrets.token_hex(16)
        self.requests.append(Recorded(sid, form, message_sid, 201))
        body = form.get("Body", "")
        answer = {
            "sid": message_sid, "account_sid": sid, "status": "queued",
            "to": form.get("To"), "from": form.get("From"), "body": body,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_segments": str(count_segments(body).count), "num_media": "0",
            "direction": "outbound-api", "api_version": "2010-04-01",
            "error_code": None, "error_message": None, "price": None,
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
        }
        callback = form.get("StatusCallback")
        if callback:
            task = asyncio.create_task(self._callbacks(callback, message_sid, form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        return web.json_response(answer, status=201)

    async def _update_call(self, request: web.Request) -> web.Response:
        sid, call = request.match_info["sid"], request.match_info["call"]
        basic = None
        with contextlib.suppress(ValueError):
            basic = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        if basic is None or (basic.login, basic.password) != (self.account_sid, self.auth_token) \
                or sid != self.account_sid:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401},
                                     status=401)
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if self._refuse:
            code, message = self._refuse.pop(0)
            self.call_updates.append(Recorded(sid, form, call, 400))
            return web.json_response({"code": code, "message": message, "status": 400,
                                      "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                                     status=400)
        self.call_updates.append(Recorded(sid, form, call, 200))
        status = "completed" if form.get("Status") == "completed" else "in-progress"
        return web.json_response({
            "sid": call, "account_sid": sid, "status": status, "direction": "inbound",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{sid}/Calls/{call}.json"})

    async def _callbacks(self, url: str, sid: str, form: dict[str, str]) -> None:
        for status in ("sent", self.final_status):
            if self.callback_delay:
                await asyncio.sleep(self.callback_delay)
            params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid,
                      "MessageStatus": status, "SmsStatus": status,
                      "To": form.get("To", ""), "From": form.get("From", ""),
                      "ApiVersion": "2010-04-01"}
            if status in ("undelivered", "failed") and self.final_error:
                params["ErrorCode"] = self.final_error
            with contextlib.suppress(aiohttp.ClientError):
                code, _ = await self.post_webhook(url, params)
                self.callbacks.append(Callback(sid, status, code))

    async def _serve_media(self, request: web.Request) -> web.StreamResponse:
        basic = None
        with contextlib.suppress(ValueError):
            basic = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        if basic is None or (basic.login, basic.password) != (self.account_sid, self.auth_token):
            return web.Response(status=401)  # media behind HTTP auth, as Twilio can require
        media = self._media.get(request.match_info["name"])
        if media is None:
            return web.Response(status=404)
        return web.Response(body=media.data, content_type=media.content_type)


class _Multi:
    """What `RequestValidator.get_values` reads repeated fields from (`getall`)."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def __iter__(self) -> Any:
        return iter(self._values)

    def getall(self, name: str) -> list[str]:
        return self._values[name]
