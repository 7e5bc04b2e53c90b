"""HTTP routes of SMS and WhatsApp through Twilio (`channels.twilio_messaging`).

    POST /twilio/messaging          Twilio's inbound webhook (form body)         PUBLIC
    POST /twilio/messaging/status   Twilio's status callbacks (form body)        PUBLIC
    POST /api/cases/{id}/messages   {"channel": "sms"|"whatsapp", "body": text,  agent
                                    "to"?: one of the customer's numbers}

The two webhook routes are declared PUBLIC (`web.auth.allow_anonymous`) because Twilio has no
login here: the `X-Twilio-Signature` over `twilio.public_url` is their authentication, checked
before anything in the request is looked at, and a missing or wrong one gets 403 with nothing
stored (fail closed). They answer empty TwiML (`<Response/>`), or to HELP / INFO the
operator's `twilio.help_text` as a `<Message>`; Twilio itself sends the standard STOP/START
confirmations.

Errors are JSON `{"error": {"code", "message", "where"?}}`: 403 forged, 413 a body too large
to be Twilio's, 415 not a form, 400 a malformed field (`where` names it: `Body`,
`MediaUrl0`...), 404 a status report for a message we never sent, 503 storage unavailable.
The send route answers 201 with the stored message; 409 `Refused` (opted out, the dial plan,
not set up: `code` says which, `message` says it to the agent); 502 when Twilio refused or
could not be reached (`provider_code` is Twilio's error code).
"""

from __future__ import annotations

import logging
from html import escape

from aiohttp import web

from cases.errors import CaseError, InvalidInput, NotFound
from channels.base import BadInbound, Forged, Refused, SendFailed
from channels.twilio_messaging import INBOUND_PATH, STATUS_PATH, TwilioMessaging
from channels.twilio_webhook import HELP_KEYWORDS, MAX_FORM_BYTES, SIGNATURE_HEADER
from web.auth import Role, allow_anonymous, require
from web.case_http import CASE_STORE, body_fields, error, from_case_error, readable

log = logging.getLogger(__name__)

TWILIO_MESSAGING: web.AppKey[TwilioMessaging] = web.AppKey("twilio_messaging", TwilioMessaging)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_FORM = "application/x-www-form-urlencoded"


class _TooLarge(Exception):
    pass


async def _read_capped(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _TooLarge
    data = bytearray()
    while chunk := await request.content.read(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise _TooLarge
    return bytes(data)


async def _webhook_body(request: web.Request) -> tuple[str | None, bytes] | web.Response:
    """The signature and raw form, or the refusal: no signature is refused before the body
    is read."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return error(403, "forged", f"no {SIGNATURE_HEADER} header")
    if request.content_type != _FORM:
        return error(415, "unsupported_media_type", f"Twilio posts {_FORM}", "Content-Type")
    try:
        raw = await _read_capped(request, MAX_FORM_BYTES)
    except _TooLarge:
        return error(413, "too_large", f"a webhook body is at most {MAX_FORM_BYTES} bytes")
    return signature, raw


def _twiml(reply: str | None = None) -> web.Response:
    if reply is None:
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")
    text = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
            f"{escape(reply, quote=False)}</Message></Response>")
    return web.Response(text=text, content_type="text/xml")


def _inbound_error(exc: Exception) -> web.Response:
    if isinstance(exc, Forged):
        log.warning("twilio webhook refused: %s", exc)
        return error(403, "forged", str(exc))
    if isinstance(exc, BadInbound):
        return error(400, "bad_inbound", exc.what, exc.where)
    assert isinstance(exc, CaseError)
    return from_case_error(exc)


async def inbound(request: web.Request) -> web.Response:
    """Twilio's inbound message webhook."""
    got = await _webhook_body(request)
    if isinstance(got, web.Response):
        return got
    signature, raw = got
    messaging = request.app[TWILIO_MESSAGING]
    try:
        received = await messaging.receive(request.path_qs, raw, signature)
    except (Forged, BadInbound, CaseError) as exc:
        return _inbound_error(exc)
    return _twiml(messaging.config.help_text if received.keyword in HELP_KEYWORDS else None)


async def status(request: web.Request) -> web.Response:
    """Twilio's status callback for a message we sent."""
    got = await _webhook_body(request)
    if isinstance(got, web.Response):
        return got
    signature, raw = got
    try:
        await request.app[TWILIO_MESSAGING].status(request.path_qs, raw, signature)
    except NotFound:
        return error(404, "not_found", "no message was sent with this MessageSid", "MessageSid")
    except (Forged, BadInbound, CaseError) as exc:
        return _inbound_error(exc)
    return _twiml()


async def send_from_case(request: web.Request) -> web.Response:
    """An agent sends an SMS or WhatsApp message to the customer of a case they may read."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    body = await body_fields(request, {"channel", "body", "to"})
    if isinstance(body, web.Response):
        return body
    channel, text, to = body.get("channel"), body.get("body"), body.get("to")
    if not isinstance(channel, str):
        return error(400, "invalid_input", "sms or whatsapp", "channel")
    if not isinstance(text, str):
        return error(400, "invalid_input", "the message text is required", "body")
    if to is not None and not isinstance(to, str):
        return error(400, "invalid_input", "a phone number", "to")
    try:
        sent = await request.app[TWILIO_MESSAGING].send(case_id, channel, text, to=to)
    except Refused as exc:
        return error(409, exc.code, exc.reason)
    except SendFailed as exc:
        reply = {"error": {"code": "send_failed", "message": str(exc),
                           "provider_code": exc.code}}
        return web.json_response(reply, status=502)
    except InvalidInput as exc:
        return error(400, "invalid_input", exc.what, exc.where)
    except CaseError as exc:
        return from_case_error(exc)
    log.info("agent %s sent a %s message from case %s", viewer.name, channel, public_id)
    try:
        # The customer's open case: this one, unless it was closed meanwhile.
        landed = await request.app[CASE_STORE].public_id(sent.stored.case_id)
    except CaseError as exc:
        return from_case_error(exc)
    answer: dict[str, object] = {"message": sent.view, "case_id": landed}
    if sent.segments is not None:
        answer["segments"] = {"count": sent.segments.count,
                              "encoding": sent.segments.encoding,
                              "units": sent.segments.units}
    return web.json_response(answer, status=201)


def add_twilio_routes(app: web.Application, messaging: TwilioMessaging) -> None:
    """Mount the webhooks (PUBLIC: signature-checked) and the send route (agents) on `app`,
    which must hold the case API (`web.cases_api.add_case_routes`)."""
    app[TWILIO_MESSAGING] = messaging
    allow_anonymous(app, app.router.add_post(INBOUND_PATH, inbound))
    allow_anonymous(app, app.router.add_post(STATUS_PATH, status))
    require(app, app.router.add_post("/api/cases/{id}/messages", send_from_case), Role.AGENT)
