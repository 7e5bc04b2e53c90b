"""The chat widget's WebSocket messages: one JSON object per frame, each a dataclass here.

    widget → server                               server → widget
    hello    {token?, user_id?, user_hash?,       welcome  {token, identified, calls?}
              last_seen?}                         line     {id, from, body, at, client_id?,
    message  {id, body}                                     status}
    typing   {active}                             receipt  {client_id, id, duplicate}
    ack      {id, status: delivered|read}         status   {id, status}
    prechat  {name?, email?, phone?}              typing   {active}
    call     {sdp}   (an SDP offer: "call us")    error    {code, message, where?, client_id?}
    hangup   {}                                   call     {state: answered|agent|ended|
    dtmf     {digits}  (keys pressed in the call)           refused, sdp?, code?, message?}

`parse()` reads one frame (text, or a binary frame holding UTF-8) and raises `ProtocolError`
naming the field (`where`) and what is wrong with it; the socket stays open after one, so a
widget's bad frame costs that frame only. Server messages serialise with `to_json()`.

`message.id` is the widget's own id for a line (random, 1-64 characters): sending the same id
again (a reconnect that is not sure the first try arrived) stores nothing twice. `last_seen`
is the highest server message id the widget has shown: the server replays what came after.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from channels.base import BadInbound

#: A visitor's line, in characters: a long chat message, far below the case's 64 Ki limit.
MAX_LINE_CHARS = 4000
#: A frame, in bytes: a full line JSON-escaped (\uXXXX: 6 bytes a character) fits; aiohttp
#: closes the socket (1009) on a bigger frame, before it is buffered whole.
MAX_FRAME_BYTES = 64 * 1024
MAX_USER_ID_CHARS = 200
MAX_FORM_CHARS = 200
#: A browser's SDP offer with its candidates is 2-6 KB; far more is not an offer.
MAX_SDP_CHARS = 20_000

_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_USER_ID_BAD = re.compile(r"[\x00-\x20\x7f]")
_DIGITS = re.compile(r"[0-9*#A-D]{1,32}\Z")


class ProtocolError(BadInbound):
    """A frame the server cannot use: `what` is wrong with `where` (a field, or `frame`).
    `code` is `too_long` for a line over the size cap, else `bad_frame`; `client_id` names
    the refused line when the frame was one with a usable id."""

    def __init__(self, what: str, where: str, *, code: str = "bad_frame",
                 client_id: str | None = None) -> None:
        super().__init__(what, where)
        self.code = code
        self.client_id = client_id


def _text(obj: dict[str, Any], key: str, *, max_chars: int, required: bool = True,
          multiline: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ProtocolError("must be text", key)
    if required and not value.strip():
        raise ProtocolError("must not be empty", key)
    if len(value) > max_chars:
        raise ProtocolError(f"is {len(value)} characters; at most {max_chars}", key,
                            code="too_long")
    bad = _CONTROL if multiline else re.compile(r"[\x00-\x1f\x7f]")
    if bad.search(value):
        raise ProtocolError("contains control characters", key)
    return value


def _check_fields(obj: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(obj) - allowed - {"type"})
    if unknown:
        raise ProtocolError("unknown field", unknown[0])


@dataclass(frozen=True)
class Hello:
    """The first frame: who the visitor is, and what the widget has shown already."""

    type: ClassVar[str] = "hello"
    token: str | None = None
    user_id: str | None = None
    user_hash: str | None = None
    last_seen: int | None = None

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Hello:
        _check_fields(obj, frozenset({"token", "user_id", "user_hash", "last_seen", "lang"}))
        token = _text(obj, "token", max_chars=200, required=False)
        user_id = _text(obj, "user_id", max_chars=MAX_USER_ID_CHARS, required=False)
        if user_id is not None and (not user_id or _USER_ID_BAD.search(user_id)):
            raise ProtocolError("must be 1 or more characters without spaces", "user_id")
        user_hash = _text(obj, "user_hash", max_chars=128, required=False)
        if (user_id is None) != (user_hash is None):
            raise ProtocolError("user_id and user_hash come together", "user_hash")
        last_seen = obj.get("last_seen")
        if last_seen is not None and (
                isinstance(last_seen, bool) or not isinstance(last_seen, int) or last_seen < 0):
            raise ProtocolError("must be a message id (an integer >= 0)", "last_seen")
        return cls(token or None, user_id, user_hash, last_seen)


@dataclass(frozen=True)
class Say:
    """A visitor's line (`type` "message"); `id` is the widget's id for it."""

    type: ClassVar[str] = "message"
    id: str
    body: str

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Say:
        _check_fields(obj, frozenset({"id", "body"}))
        client_id = obj.get("id")
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise ProtocolError("must be 1-64 letters, digits, _ or -", "id")
        body = _text(obj, "body", max_chars=MAX_LINE_CHARS, multiline=True)
        assert body is not None
        return cls(client_id, body)


@dataclass(frozen=True)
class Typing:
    """The visitor started (`active`) or stopped typing; the agent's, going the other way."""

    type: ClassVar[str] = "typing"
    active: bool

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Typing:
        _check_fields(obj, frozenset({"active"}))
        active = obj.get("active")
        if not isinstance(active, bool):
            raise ProtocolError("must be true or false", "active")
        return cls(active)


@dataclass(frozen=True)
class Ack:
    """The widget showed (`delivered`) or the visitor saw (`read`) the agent's line `id`."""

    type: ClassVar[str] = "ack"
    id: int
    status: str

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Ack:
        _check_fields(obj, frozenset({"id", "status"}))
        message_id = obj.get("id")
        if isinstance(message_id, bool) or not isinstance(message_id, int) or message_id < 1:
            raise ProtocolError("must be a message id (an integer >= 1)", "id")
        status = obj.get("status")
        if status not in ("delivered", "read"):
            raise ProtocolError("must be delivered or read", "status")
        return cls(message_id, str(status))


@dataclass(frozen=True)
class PreChat:
    """The optional form before the first line; what the visitor typed, unverified."""

    type: ClassVar[str] = "prechat"
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> PreChat:
        _check_fields(obj, frozenset({"name", "email", "phone"}))
        values = [_text(obj, key, max_chars=MAX_FORM_CHARS, required=False)
                  for key in ("name", "email", "phone")]
        name, email, phone = (v.strip() or None if v is not None else None for v in values)
        return cls(name, email, phone)


@dataclass(frozen=True)
class CallOffer:
    """"Call us": the browser's SDP offer, its ICE candidates in it (non-trickle)."""

    type: ClassVar[str] = "call"
    sdp: str

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> CallOffer:
        _check_fields(obj, frozenset({"sdp"}))
        sdp = obj.get("sdp")
        if not isinstance(sdp, str) or not sdp.startswith("v=0"):
            raise ProtocolError("must be an SDP offer (starting v=0)", "sdp")
        if len(sdp) > MAX_SDP_CHARS:
            raise ProtocolError(f"is {len(sdp)} characters; at most {MAX_SDP_CHARS}", "sdp",
                                code="too_long")
        return cls(sdp)


@dataclass(frozen=True)
class HangUp:
    """The visitor hung up the call they placed from this socket."""

    type: ClassVar[str] = "hangup"

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> HangUp:
        _check_fields(obj, frozenset())
        return cls()


@dataclass(frozen=True)
class Keys:
    """Keys the visitor pressed on the widget's keypad during their call (for the IVR)."""

    type: ClassVar[str] = "dtmf"
    digits: str

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Keys:
        _check_fields(obj, frozenset({"digits"}))
        digits = obj.get("digits")
        if not isinstance(digits, str) or not _DIGITS.match(digits):
            raise ProtocolError("must be 1 to 32 keys of 0-9, *, #, A-D", "digits")
        return cls(digits)


ClientMessage = Hello | Say | Typing | Ack | PreChat | CallOffer | HangUp | Keys
_CLIENT: dict[str, Any] = {
    c.type: c for c in (Hello, Say, Typing, Ack, PreChat, CallOffer, HangUp, Keys)}


def parse(frame: str | bytes) -> ClientMessage:
    """One widget frame as its dataclass; `ProtocolError` naming what and where otherwise."""
    if isinstance(frame, bytes):
        if len(frame) > MAX_FRAME_BYTES:
            raise ProtocolError(f"is {len(frame)} bytes; at most {MAX_FRAME_BYTES}", "frame")
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"is not UTF-8 (byte {exc.start})", "frame") from exc
    try:
        obj = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"is not JSON ({exc.msg} at character {exc.pos})", "frame") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("must be a JSON object", "frame")
    kind = obj.get("type")
    cls = _CLIENT.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"must be one of {', '.join(sorted(_CLIENT))}", "type")
    try:
        message: ClientMessage = cls.from_obj(obj)
    except ProtocolError as exc:
        client_id = obj.get("id") if cls is Say else None
        if isinstance(client_id, str) and _CLIENT_ID.match(client_id):
            exc.client_id = client_id  # the widget can mark that line as not sent
        raise
    return message


class _ServerMessage:
    type: ClassVar[str]

    def to_json(self) -> str:
        """The frame to send: the fields, None ones left out, and `type`."""
        fields = {k: v for k, v in asdict(self).items() if v is not None}  # type: ignore[call-overload]
        return json.dumps({"type": self.type, **fields}, ensure_ascii=False)


@dataclass(frozen=True)
class Welcome(_ServerMessage):
    """The visitor's token (keep it: a reload continues with it) and whether the site
    vouched for them (`identified`)."""

    type: ClassVar[str] = "welcome"
    token: str
    identified: bool
    calls: bool | None = None  # True: the widget may offer "call us" (chat.call_to is set)


@dataclass(frozen=True)
class Line(_ServerMessage):
    """A line of the conversation: `from` the visitor or an agent (`sender` here, since
    `from` is a Python keyword; on the wire it is `from`)."""

    type: ClassVar[str] = "line"
    id: int
    sender: str
    body: str
    at: str | None
    status: str
    client_id: str | None = None

    def to_json(self) -> str:
        obj = {"type": self.type, "id": self.id, "from": self.sender, "body": self.body,
               "at": self.at, "status": self.status}
        if self.client_id is not None:
            obj["client_id"] = self.client_id
        return json.dumps(obj, ensure_ascii=False)


@dataclass(frozen=True)
class Receipt(_ServerMessage):
    """The visitor's line `client_id` is stored as message `id` (`duplicate`: it was already)."""

    type: ClassVar[str] = "receipt"
    client_id: str
    id: int
    duplicate: bool


@dataclass(frozen=True)
class Status(_ServerMessage):
    """A line's delivery status changed (the visitor's other tab read it, say)."""

    type: ClassVar[str] = "status"
    id: int
    status: str


@dataclass(frozen=True)
class AgentTyping(_ServerMessage):
    """The agent started or stopped typing."""

    type: ClassVar[str] = "typing"
    active: bool


@dataclass(frozen=True)
class Error(_ServerMessage):
    """Something the widget sent was refused; `client_id` names the line if it was one."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    where: str | None = None
    client_id: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class CallUpdate(_ServerMessage):
    """The visitor's call: `answered` (with our SDP answer), `agent` (an agent took it),
    `ended` (with why), or
    `refused` (`code`: busy, rate_limited, unavailable, bad_offer; `message` in words)."""

    type: ClassVar[str] = "call"
    state: str
    sdp: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
