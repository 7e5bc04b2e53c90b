"""Text channels and Twilio: SMS/WhatsApp webhooks and sending, Twilio Voice webhooks, the
Media Streams socket and call control, the web chat, handover links, email from a case
(`web.twilio_api`, `web.twilio_voice_api`, `web.chat_api`, `web.handover_api`,
`web.email_api`)."""

from __future__ import annotations

from web.openapi.model import (
    ANY_OBJ,
    BOOL,
    NO_CONTENT,
    STR,
    Op,
    Reply,
    Schema,
    nullable,
    obj,
    ok,
)

TAG = "channels"

FORM = "application/x-www-form-urlencoded"
TWIML = Reply("TwiML", None, "text/xml")
PLAIN = Reply("not a WebSocket handshake, or refused before the upgrade", None, "text/plain")
UPGRADE = Reply("switching to the WebSocket", None, None)
# Twilio's webhooks: form fields, signed. Nothing is read before the signature is checked.
_SID: Schema = {"type": "string", "pattern": "^[A-Z]{2}[0-9a-f]{32}$"}
_NUMBER: Schema = {"type": "string", "pattern": r"^(whatsapp:)?\+[1-9][0-9]{6,14}$"}
_STATUS: Schema = {"enum": ["queued", "sent", "delivered", "undelivered", "failed", "read"]}
_CALL_STATUS: Schema = {"enum": ["queued", "ringing", "in-progress", "completed", "busy",
                                 "failed", "no-answer", "canceled"]}
_BODY: Schema = {"type": "string", "minLength": 1, "maxLength": 1600}
_MEDIA: Schema = {"type": "string", "pattern": "^[0-9]{1,2}$"}
MESSAGE_FORM = obj(("MessageSid", "AccountSid", "From", "To", "Body"), MessageSid=_SID,
                   AccountSid=_SID, From=_NUMBER, To=_NUMBER, Body=_BODY, NumMedia=_MEDIA)
MESSAGE_STATUS_FORM = obj(("MessageSid", "AccountSid", "MessageStatus"), MessageSid=_SID,
                          AccountSid=_SID, MessageStatus=_STATUS, ErrorCode=STR)
CALL_FORM = obj(("CallSid", "AccountSid", "From", "To"), CallSid=_SID, AccountSid=_SID,
                From=_NUMBER, To=_NUMBER, CallStatus=_CALL_STATUS)
CALL_STATUS_FORM = obj(("CallSid", "AccountSid", "CallStatus"), CallSid=_SID,
                       AccountSid=_SID, CallStatus=_CALL_STATUS, CallDuration=STR)
WEBHOOK_REPLIES: dict[int, Reply | str] = {
    200: TWIML,
    400: "a malformed field (`where` names it)",
    403: "no X-Twilio-Signature, or a wrong one (nothing is stored)",
    413: "a body too large to be Twilio's",
    415: "not a form",
    503: "storage unavailable",
}
SIGNATURE = {"X-Twilio-Signature": STR}
CASE_ERRORS: dict[int, Reply | str] = {
    400: "a malformed case id or a bad field (`where` names it)",
    404: "no such case, or one the caller may not read",
    503: "the case store is unavailable",
}
SEND_FAILED = Reply("the provider refused or could not be reached (`provider_code` is its "
                    "code)", {"$ref": "#/components/schemas/Error"})
SENT = obj(("message",), message=ANY_OBJ, case_id=STR)
CALL_SID: Schema = {"type": "string", "pattern": "^CA[0-9a-f]{32}$"}
CONTROL: dict[int, Reply | str] = {
    200: ok("done", obj(("call_sid",), call_sid=STR, status=STR)),
    400: "not a Twilio call id (`where`: sid) or a bad field",
    404: "no such call",
    409: "`not_configured` (no Twilio Voice), or `dial_refused` by the dial plan",
    502: SEND_FAILED,
}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("POST", "/twilio/messaging"): Op(
        "Twilio's inbound SMS/WhatsApp webhook (signed form)",
        WEBHOOK_REPLIES, body=MESSAGE_FORM, body_media=FORM, headers=SIGNATURE),
    ("POST", "/twilio/messaging/status"): Op(
        "Twilio's status callback for a message we sent (signed form)",
        {**WEBHOOK_REPLIES, 404: "no message was sent with this MessageSid"},
        body=MESSAGE_STATUS_FORM, body_media=FORM, headers=SIGNATURE),
    ("POST", "/api/cases/{id}/messages"): Op(
        "Send an SMS or WhatsApp message to the case's customer",
        {201: ok("the stored message", SENT), **CASE_ERRORS,
         409: "refused: opted out, the dial plan, not set up (`code` says which)",
         502: SEND_FAILED},
        body=obj(("channel", "body"), extra=False, channel={"enum": ["sms", "whatsapp"]},
                 body=STR, to=STR)),
    ("POST", "/twilio/voice"): Op(
        "Twilio's incoming-call webhook (signed form): TwiML connecting a Media Stream",
        WEBHOOK_REPLIES, body=CALL_FORM, body_media=FORM, headers=SIGNATURE),
    ("POST", "/twilio/voice/status"): Op(
        "Twilio's call status callback (signed form)",
        {**WEBHOOK_REPLIES, 204: NO_CONTENT},
        body=CALL_STATUS_FORM, body_media=FORM, headers=SIGNATURE),
    ("GET", "/twilio/stream"): Op(
        "Twilio's Media Streams WebSocket (one-time token in its start message)",
        {101: UPGRADE, 400: PLAIN, 403: PLAIN}),
    ("POST", "/api/twilio/calls/{sid}/hangup"): Op(
        "End a Twilio call", CONTROL, path={"sid": CALL_SID}),
    ("POST", "/api/twilio/calls/{sid}/transfer"): Op(
        "Transfer a Twilio call to a number (through the dial plan)", CONTROL,
        body=obj(("to",), extra=False, to=STR), path={"sid": CALL_SID}),
    ("POST", "/api/twilio/calls/{sid}/redirect"): Op(
        "Redirect a Twilio call to any TwiML (admins only: it can dial anything)", CONTROL,
        body=obj(("twiml",), extra=False, twiml=STR), path={"sid": CALL_SID}),
    ("GET", "/chat/softphone.js"): Op("The desk's softphone module, for the widget's "
                                      "\"call us\"",
                                      {200: Reply("JavaScript", None, "text/javascript")}),
    ("GET", "/chat/{filename}"): Op("The chat widget's files (ES modules, style sheet)", {
        200: Reply("the file", None, None),
        403: Reply("not a file", None, "text/plain"),
        404: Reply("no such file", None, "text/plain")}),
    ("GET", "/api/chat/ws"): Op(
        "The visitor's chat WebSocket (signed visitor token in the first message)",
        {101: UPGRADE, 400: PLAIN, 403: "an Origin that is not allowed"}),
    ("POST", "/api/cases/{id}/chat"): Op(
        "An agent's line to the chat visitor",
        {201: ok("the stored message", ANY_OBJ), **CASE_ERRORS,
         409: "the case has no open chat (`no_chat`)"},
        body=obj(("body",), extra=False, body=STR)),
    ("POST", "/api/cases/{id}/chat/typing"): Op(
        "The agent's typing indicator",
        {204: NO_CONTENT, **CASE_ERRORS, 409: "the case has no open chat (`no_chat`)"},
        body=obj(("active",), extra=False, active=BOOL)),
    ("GET", "/chat/continue"): Op(
        "A handover link: the chat widget on the customer's case, or a page saying why not",
        {200: Reply("the page", None, "text/html"),
         403: Reply("a malformed or tampered link", None, "text/html"),
         410: Reply("an expired link, or the case closed", None, "text/html")},
        query={"t": STR}),
    ("GET", "/api/cases/{id}/handover"): Op(
        "The handover draft: text, link, channels",
        {200: ok("the draft", obj(("text", "link", "channels"), text=STR, link=STR)),
         **CASE_ERRORS, 409: "nothing to hand over (`code` says why)"},
        query={"interaction": {"type": "string", "pattern": "^[0-9]{1,12}$"}}),
    ("POST", "/api/cases/{id}/handover"): Op(
        "Send the customer a link to continue by SMS, WhatsApp, email or chat",
        {201: ok("sent", obj(("channel", "link"), channel=STR, message=nullable(ANY_OBJ),
                             link=STR)),
         **CASE_ERRORS, 409: "refused (`code`: opted_out, not_configured, case_closed...)",
         502: SEND_FAILED},
        body=obj(("channel",), extra=False,
                 channel={"enum": ["sms", "whatsapp", "email", "chat"]},
                 text=STR, to=STR, via={"enum": ["sms", "whatsapp", "email"]})),
    ("POST", "/api/cases/{id}/emails"): Op(
        "Send an email from the case (to the customer's address unless `to`)",
        {201: ok("the stored message", ANY_OBJ), **CASE_ERRORS,
         409: "will not send: the case is closed, the address is another customer's",
         502: SEND_FAILED},
        body=obj(("subject", "body"), extra=False, to={"type": "string", "format": "email"},
                 subject={"type": "string", "minLength": 1, "maxLength": 200},
                 body={"type": "string", "minLength": 1},
                 in_reply_to_message={"type": "integer"})),
}
