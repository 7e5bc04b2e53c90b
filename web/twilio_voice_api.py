"""HTTP routes of Twilio Voice: the call webhook, its status callback, the Media Streams socket.

    POST /twilio/voice          Twilio's incoming-call webhook (form)     PUBLIC, signed
    POST /twilio/voice/status   Twilio's call status callback (form)      PUBLIC, signed
    GET  /twilio/stream         the Media Streams WebSocket               PUBLIC, one-time token
    GET  /api/debug/twilio      the streams' figures (--debug-api only)   admin
    POST /api/twilio/calls/{sid}/hangup     end the call (REST)           supervisor
    POST /api/twilio/calls/{sid}/transfer   {"to": number}: <Dial> it     supervisor
    POST /api/twilio/calls/{sid}/redirect   {"twiml": "<Response>..."}    admin

The call-control routes go through Twilio's REST API (`voice.twilio.control`): a transfer's
number passes the dial plan first (409 refused, saying why); redirect takes any TwiML, which
can dial anything, so only admins may. 502 when Twilio refused or could not be reached.

The webhooks go through the same checks as the messaging ones (`web.twilio_api`,
`channels.twilio_webhook`): no `X-Twilio-Signature` is refused before the body is read; the
signature is checked with the `twilio` package's `RequestValidator` against
`twilio.public_url` + the path, before any field is looked at (403, nothing stored).

The voice webhook answers TwiML built with `twilio.twiml.voice_response`:

    <Response><Connect><Stream url="wss://PUBLIC/twilio/stream">
        <Parameter name="From" .../><Parameter name="To" .../>
        <Parameter name="token" value="ONE-TIME TOKEN"/>
    </Stream></Connect></Response>

`<Connect><Stream>` is bidirectional: what the IVR plays goes back on the socket. Twilio's
stream URL takes no query string, so the token comes back in the stream's `start` message;
the socket is upgraded only when a present `X-Twilio-Signature` matches the `wss://` URL, and
its call starts only once `start` carries a valid, unused token for the same CallSid
(`voice.twilio.stream`): anything else is closed with 1008 and a reason, before any call or
case exists.
"""

from __future__ import annotations

import logging
import re

from aiohttp import WSMsgType, web
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml.voice_response import Connect, VoiceResponse  # type: ignore[import-untyped]

from channels.base import BadInbound, Forged
from channels.twilio_config import TwilioConfig
from channels.twilio_webhook import SIGNATURE_HEADER, Form, TwilioVerifier, decode_form
from voice.dialplan import DialRefused
from voice.twilio.control import CallControlFailed, TwilioCallControl
from voice.twilio.protocol import MAX_MESSAGE_CHARS
from voice.twilio.stream import TOKEN_PARAMETER, TwilioStreams
from web.auth import Role, allow_anonymous, require
from web.case_http import body_fields, error
from web.twilio_api import _webhook_body as webhook_body  # the messaging webhooks' reader

log = logging.getLogger(__name__)

VOICE_PATH = "/twilio/voice"
VOICE_STATUS_PATH = "/twilio/voice/status"
STREAM_PATH = "/twilio/stream"
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
#: Statuses after which the call is over (Twilio's CallStatus values).
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
_STATUSES = FINAL_STATUSES | {"queued", "initiated", "ringing", "in-progress"}


class TwilioVoiceWeb:
    """What the routes need: the config, the webhook verifier, the stream service."""

    def __init__(self, config: TwilioConfig, streams: TwilioStreams,
                 control: TwilioCallControl | None = None) -> None:
        self.config = config
        self.streams = streams
        self.control = control
        self.verifier = TwilioVerifier(config.auth_token, config.public_url)
        self._validator = RequestValidator(config.auth_token)
        base = config.public_url
        scheme = "wss" if base.startswith("https://") else "ws"
        self.stream_url = scheme + base[base.index("://"):] + STREAM_PATH

    def stream_signed(self, signature: str) -> bool:
        """Whether `signature` is Twilio's over the stream's public `wss://` URL."""
        return bool(self._validator.validate(self.stream_url, {}, signature))


TWILIO_VOICE: web.AppKey[TwilioVoiceWeb] = web.AppKey("twilio_voice", TwilioVoiceWeb)


def _one(form: Form, name: str) -> str:
    values = form.getall(name, [])
    if len(values) != 1:
        raise BadInbound("missing" if not values else "given more than once", name)
    return values[0]


def _party(form: Form, name: str) -> str:
    """From / To: E.164 for phone calls, `client:`/`sip:` addresses, or `anonymous`."""
    value = _one(form, name).strip()
    if not value or len(value) > 128 or not value.isprintable():
        raise BadInbound("a caller id of 1 to 128 printable characters", name)
    return value


def _call(form: Form, account_sid: str) -> tuple[str, str]:
    """(CallSid, CallStatus) of a verified voice webhook; `BadInbound` naming the field."""
    given = form.getall("AccountSid", [])
    if given and given != [account_sid]:
        raise BadInbound("not this server's Twilio account", "AccountSid")
    sid = _one(form, "CallSid")
    if not _CALL_SID.fullmatch(sid):
        raise BadInbound("not a Twilio call id (CA and 32 hex digits)", "CallSid")
    status = _one(form, "CallStatus")
    if status not in _STATUSES:
        raise BadInbound(f"not a Twilio call status: {status[:40]!r}", "CallStatus")
    return sid, status


async def _verified(request: web.Request) -> Form | web.Response:
    """The form of a request Twilio signed, or the refusal (403/413/415/400)."""
    got = await webhook_body(request)
    if isinstance(got, web.Response):
        if got.status == 403:
            log.warning("twilio voice webhook refused: no %s header", SIGNATURE_HEADER)
        return got
    signature, raw = got
    voice = request.app[TWILIO_VOICE]
    try:
        form = decode_form(raw)
        voice.verifier.verify(request.path_qs, form, signature)
    except Forged as exc:
        log.warning("twilio voice webhook refused: %s", exc)
        return error(403, "forged", str(exc))
    except BadInbound as exc:
        return error(400, "bad_inbound", exc.what, exc.where)
    return form


async def incoming(request: web.Request) -> web.Response:
    """A call arrived at one of our Twilio numbers: stream it to us."""
    form = await _verified(request)
    if isinstance(form, web.Response):
        return form
    voice = request.app[TWILIO_VOICE]
    try:
        call_sid, _ = _call(form, voice.config.account_sid)
        caller, dialed = _party(form, "From"), _party(form, "To")
    except BadInbound as exc:
        return error(400, "bad_inbound", exc.what, exc.where)
    token = voice.streams.issue_token(call_sid, caller, dialed)
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=voice.stream_url)
    stream.parameter(name="From", value=caller)
    stream.parameter(name="To", value=dialed)
    stream.parameter(name=TOKEN_PARAMETER, value=token)
    response.append(connect)
    log.info("twilio voice webhook: call %s connected to the stream", call_sid)
    return web.Response(text=str(response), content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    """Twilio's call status callback: a final status ends the call if it still streams."""
    form = await _verified(request)
    if isinstance(form, web.Response):
        return form
    voice = request.app[TWILIO_VOICE]
    try:
        call_sid, call_status = _call(form, voice.config.account_sid)
    except BadInbound as exc:
        return error(400, "bad_inbound", exc.what, exc.where)
    if call_status in FINAL_STATUSES and voice.streams.end(call_sid, f"twilio-{call_status}"):
        log.info("twilio voice: call %s ended by its status callback (%s)", call_sid,
                 call_status)
    return web.Response(text=str(VoiceResponse()), content_type="text/xml")


class _AiohttpSocket:
    """`voice.twilio.stream.StreamSocket` over aiohttp's server-side WebSocket."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def receive(self) -> str | bytes | None:
        msg = await self.ws.receive()
        if msg.type is WSMsgType.TEXT:
            return str(msg.data)
        if msg.type is WSMsgType.BINARY:
            return bytes(msg.data)
        return None  # CLOSE, CLOSING, CLOSED, ERROR

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, message=reason.encode())


async def stream(request: web.Request) -> web.StreamResponse:
    """The Media Streams socket: signature (when present) at the upgrade, token at `start`."""
    voice = request.app[TWILIO_VOICE]
    signature = request.headers.get(SIGNATURE_HEADER)
    if signature is not None and not voice.stream_signed(signature):
        log.warning("twilio stream refused: %s does not match the stream URL",
                    SIGNATURE_HEADER)
        return error(403, "forged", f"{SIGNATURE_HEADER} does not match this request")
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_CHARS + 1024, autoping=True)
    if not ws.can_prepare(request).ok:
        return error(400, "not_websocket", "a Media Streams WebSocket upgrade is expected")
    await ws.prepare(request)
    await voice.streams.run_socket(_AiohttpSocket(ws))
    return ws


async def debug_streams(request: web.Request) -> web.Response:
    """The streams' figures: counters, and the live legs' inbound jitter (for bench/)."""
    streams = request.app[TWILIO_VOICE].streams
    lateness: list[float] = []
    totals = {"played": 0, "gaps": 0, "late": 0, "underruns": 0, "overflow": 0,
              "frames_out": 0, "clears": 0, "marks_unanswered": 0}
    for session in list(streams.live.values()):
        media = session.media
        if media is None:
            continue
        lateness.extend(media.jitter.lateness_ms)
        stats = media.stats()
        for key in ("played", "gaps", "late", "underruns", "overflow"):
            totals[key] += getattr(stats, key)
        totals["frames_out"] += media.frames_out
        totals["clears"] += media.clears
        totals["marks_unanswered"] += media.marks_unanswered
    lateness.sort()

    def at(q: float) -> float:
        return lateness[min(len(lateness) - 1, int(q * len(lateness)))] if lateness else 0.0

    s = streams.stats
    return web.json_response({
        "live": len(streams.live), "accepted": s.accepted, "refused": s.refused,
        "bad_frames": s.bad_frames, "dropped_out": s.dropped_out, **totals,
        "inbound_lateness_ms": {"p50": at(0.5), "p99": at(0.99), "max": at(1.0)},
    })


async def control_call(request: web.Request) -> web.Response:
    """Hang up, transfer or redirect a Twilio call through the REST API."""
    voice = request.app[TWILIO_VOICE]
    call_sid, action = request.match_info["sid"], request.match_info["action"]
    if not _CALL_SID.fullmatch(call_sid):
        return error(400, "invalid_input", "not a Twilio call id (CA and 32 hex digits)", "sid")
    if voice.control is None:
        return error(409, "not_configured", "Twilio call control is not set up")
    body: dict[str, object] = {}
    if action != "hangup" or request.can_read_body:  # a hang-up needs no body
        got = await body_fields(request, {"to", "twiml"})
        if isinstance(got, web.Response):
            return got
        body = got
    try:
        if action == "hangup":
            status = await voice.control.hangup(call_sid)
            return web.json_response({"call_sid": call_sid, "status": status})
        if action == "transfer":
            to = body.get("to")
            if not isinstance(to, str):
                return error(400, "invalid_input", "a phone number", "to")
            dialed = await voice.control.transfer(call_sid, to)
            return web.json_response({"call_sid": call_sid, "dialed": dialed})
        twiml = body.get("twiml")
        if not isinstance(twiml, str):
            return error(400, "invalid_input", "a TwiML <Response> document", "twiml")
        status = await voice.control.redirect(call_sid, twiml=twiml)
        return web.json_response({"call_sid": call_sid, "status": status})
    except DialRefused as exc:
        return error(409, "dial_refused", f"refused by the dial plan: {exc.reason}", "to")
    except ValueError as exc:
        return error(400, "invalid_input", str(exc), "twiml")
    except CallControlFailed as exc:
        reply = {"error": {"code": "twilio_failed", "message": str(exc),
                           "provider_code": exc.code}}
        return web.json_response(reply, status=502)


def add_twilio_voice_routes(app: web.Application, voice: TwilioVoiceWeb, *,
                            debug: bool = False) -> None:
    """Mount the voice webhook, its status callback and the stream socket (all PUBLIC: the
    signature and the one-time token are their authentication); with `debug`, also
    `GET /api/debug/twilio` (admins: the streams' figures)."""
    app[TWILIO_VOICE] = voice
    allow_anonymous(app, app.router.add_post(VOICE_PATH, incoming))
    allow_anonymous(app, app.router.add_post(VOICE_STATUS_PATH, status))
    allow_anonymous(app, app.router.add_get(STREAM_PATH, stream))
    calls = "/api/twilio/calls/{sid}"
    require(app, app.router.add_post(calls + "/{action:hangup|transfer}", control_call),
            Role.SUPERVISOR)
    require(app, app.router.add_post(calls + "/{action:redirect}", control_call), Role.ADMIN)
    if debug:
        require(app, app.router.add_get("/api/debug/twilio", debug_streams), Role.ADMIN)
