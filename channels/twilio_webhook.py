"""Twilio's webhooks, verified first and then parsed: inbound messages and status callbacks.

Order of checks on every request (fail closed, STYLE.md §14):

1. no `X-Twilio-Signature` header                    -> `Forged` (403), body not read
2. the form body is over `MAX_FORM_BYTES`              -> refused unread (413, by the handler)
3. the form body cannot be decoded (bad %-escapes,    -> `BadInbound` (400) naming the field.
   invalid UTF-8)                                       Only transport decoding: the signature
                                                        is computed over the decoded values,
                                                        and Twilio never signs invalid text
4. the signature is not Twilio's for `public_url` +   -> `Forged` (403): nothing is looked at
   the path and query it requested                      beyond this point, nothing stored
5. the fields (From, To, Body, MessageSid, NumMedia,   -> `BadInbound` (400) naming the field
   MediaUrlN, MediaContentTypeN; MessageStatus,
   ErrorCode)

The signature is checked with the `twilio` package's `RequestValidator` (HMAC-SHA1 over the
URL and the sorted parameters, keyed with the account's auth token). A request signed with a
webhook SharedKey (`X-Twilio-Webhooks-Signature-Settings`) is not accepted: we hold no such key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from channels.base import BadInbound, Forged

SIGNATURE_HEADER = "X-Twilio-Signature"
#: A form body Twilio sends is a few kilobytes (4,096 characters of text at most, %-encoded,
#: plus ~30 fields and up to 10 media URLs); anything over this is not Twilio's.
MAX_FORM_BYTES = 256 * 1024
#: Inbound text: Twilio concatenates SMS up to 1,600 characters; WhatsApp allows 4,096.
MAX_INBOUND_BODY_CHARS = 4096
#: Twilio delivers at most 10 media files with one message.
MAX_MEDIA = 10

_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_ADDRESS = re.compile(r"(whatsapp:)?\+?[0-9]{3,15}")
_ERROR_CODE = re.compile(r"[0-9]{1,6}")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")

#: Twilio's MessageStatus values -> ours (`cases.models.MESSAGE_STATUSES`). Twilio's
#: intermediate states are all "not sent yet" here; "canceled" (a scheduled message
#: withdrawn) never went out.
STATUS_MAP: Mapping[str, str] = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent", "delivered": "delivered", "read": "read",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}
#: Statuses of inbound messages (a callback about a message we received): nothing to do.
INBOUND_STATUSES = frozenset({"receiving", "received"})

Form = MultiDict[str]


def decode_form(raw: bytes) -> Form:
    """An `application/x-www-form-urlencoded` body as text fields, decoded strictly as UTF-8;
    `BadInbound` naming the field that is not."""
    form: Form = MultiDict()
    if not raw:
        return form
    for index, pair in enumerate(raw.split(b"&")):
        if not pair:
            continue
        name_raw, _, value_raw = pair.partition(b"=")
        name_bytes = unquote_to_bytes(name_raw.replace(b"+", b" "))
        try:
            name = name_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInbound(f"a field name is not valid UTF-8 (at byte {exc.start})",
                             f"form field {index}") from exc
        if len(name) > 100:
            raise BadInbound("a field name longer than 100 characters", f"form field {index}")
        value_bytes = unquote_to_bytes(value_raw.replace(b"+", b" "))
        try:
            value = value_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInbound(f"not valid UTF-8 (at byte {exc.start})", _safe(name)) from exc
        form.add(name, value)
    return form


def _safe(name: str) -> str:
    return name if name.isprintable() else repr(name)


class TwilioVerifier:
    """Checks `X-Twilio-Signature` for requests Twilio made to `public_url` + path."""

    def __init__(self, auth_token: str, public_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url.rstrip("/")

    def url_for(self, path_qs: str) -> str:
        """The URL Twilio requested, as it signed it: the public URL, then our path+query."""
        return self._public_url + path_qs

    def verify(self, path_qs: str, form: Form | MultiDictProxy[str],
               signature: str | None) -> None:
        """`Forged` unless `signature` is Twilio's over (public URL + `path_qs`, `form`)."""
        if not signature:
            raise Forged(f"no {SIGNATURE_HEADER} header")
        if not self._validator.validate(self.url_for(path_qs), form, signature):
            raise Forged(f"{SIGNATURE_HEADER} does not match this request")


@dataclass(frozen=True)
class MediaRef:
    """One media file of an inbound message: where Twilio keeps it and its declared type."""

    url: str
    content_type: str
    where: str


@dataclass(frozen=True)
class InboundText:
    """A verified, validated inbound SMS or WhatsApp message. `sender`/`recipient` are as
    Twilio gave them (`whatsapp:+34...` on WhatsApp)."""

    channel: str
    sid: str
    sender: str
    recipient: str
    body: str
    media: tuple[MediaRef, ...]


@dataclass(frozen=True)
class StatusReport:
    """A verified status callback: our status for it (None for an inbound message's)."""

    sid: str
    channel: str | None
    twilio_status: str
    status: str | None
    error_code: str | None


def _one(form: Form, name: str, *, required: bool = True) -> str | None:
    values = form.getall(name, [])
    if len(values) > 1:
        raise BadInbound("given more than once", name)
    if not values:
        if required:
            raise BadInbound("missing", name)
        return None
    return values[0]


def _required(form: Form, name: str) -> str:
    value = _one(form, name)
    assert value is not None
    return value


def _sid(form: Form, names: Sequence[str]) -> str:
    for name in names:
        value = _one(form, name, required=False)
        if value is not None:
            if not _SID.fullmatch(value):
                raise BadInbound("not a Twilio id (two letters and 32 hex digits)", name)
            return value
    raise BadInbound("missing", names[0])


def _address(form: Form, name: str) -> str:
    value = _required(form, name).strip()
    if not _ADDRESS.fullmatch(value):
        raise BadInbound("not a phone number (E.164, or whatsapp:+E.164)", name)
    return value


def _check_account(form: Form, account_sid: str) -> None:
    given = _one(form, "AccountSid", required=False)
    if given is not None and given != account_sid:
        raise BadInbound("not this server's Twilio account", "AccountSid")


def parse_inbound(form: Form, account_sid: str) -> InboundText:
    """The message in a verified inbound webhook; `BadInbound` naming the first bad field."""
    _check_account(form, account_sid)
    sid = _sid(form, ("MessageSid", "SmsMessageSid"))
    sender = _address(form, "From")
    recipient = _address(form, "To")
    whatsapp = sender.startswith("whatsapp:")
    if whatsapp != recipient.startswith("whatsapp:"):
        raise BadInbound("From and To must both be WhatsApp addresses or both numbers", "To")
    body = _required(form, "Body")
    if len(body) > MAX_INBOUND_BODY_CHARS:
        raise BadInbound(f"at most {MAX_INBOUND_BODY_CHARS} characters, got {len(body)}", "Body")
    if "\x00" in body:
        raise BadInbound("contains a NUL character", "Body")
    count_text = _one(form, "NumMedia", required=False) or "0"
    if not (count_text.isascii() and count_text.isdigit()) or int(count_text) > MAX_MEDIA:
        raise BadInbound(f"a number from 0 to {MAX_MEDIA}", "NumMedia")
    media = tuple(_media(form, i) for i in range(int(count_text)))
    if not body.strip() and not media:
        raise BadInbound("a message needs a body or media", "Body")
    return InboundText("whatsapp" if whatsapp else "sms", sid, sender, recipient, body, media)


def _media(form: Form, index: int) -> MediaRef:
    url_field, type_field = f"MediaUrl{index}", f"MediaContentType{index}"
    url = _required(form, url_field)
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://api.twili[.com": an unbalanced bracket (found by tests/fuzz)
        raise BadInbound("an http(s) URL", url_field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
        raise BadInbound("an http(s) URL", url_field)
    content_type = _required(form, type_field).strip()
    if not _MEDIA_TYPE.fullmatch(content_type):
        raise BadInbound("a media type such as image/jpeg", type_field)
    return MediaRef(url, content_type.lower(), url_field)


def parse_status(form: Form, account_sid: str) -> StatusReport:
    """The report in a verified status callback; `BadInbound` naming the first bad field."""
    _check_account(form, account_sid)
    sid = _sid(form, ("MessageSid", "SmsSid"))
    twilio_status = _one(form, "MessageStatus", required=False)
    if twilio_status is None:
        twilio_status = _one(form, "SmsStatus")
    assert twilio_status is not None
    if twilio_status not in STATUS_MAP and twilio_status not in INBOUND_STATUSES:
        raise BadInbound(f"not a Twilio message status: {twilio_status[:40]!r}", "MessageStatus")
    error = _one(form, "ErrorCode", required=False)
    if error is not None and not _ERROR_CODE.fullmatch(error):
        raise BadInbound("a Twilio error code (digits)", "ErrorCode")
    to = _one(form, "To", required=False)
    channel = None if to is None else "whatsapp" if to.startswith("whatsapp:") else "sms"
    return StatusReport(sid, channel, twilio_status, STATUS_MAP.get(twilio_status),
                        error or None)


#: Twilio's standard opt-out keywords: the whole message, any case, surrounding spaces.
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


def keyword_of(body: str) -> tuple[str, str] | None:
    """("stop" | "start" | "help", the keyword) when the whole body is one, else None."""
    word = body.strip().upper()
    if word in STOP_KEYWORDS:
        return "stop", word
    if word in START_KEYWORDS:
        return "start", word
    if word in HELP_KEYWORDS:
        return "help", word
    return None
