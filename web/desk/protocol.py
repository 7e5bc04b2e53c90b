"""The agent desk's WebSocket messages, and the service behind them.

Desk → server (commands; each a dataclass with `parse()` and `to_json()`):

    {"type": "state", "state": "available"|"break"|"offline", "reason"?: text}   SetState
    {"type": "accept", "offer_id": id, "sdp": WebRTC offer SDP (<= 64 KB)}       Accept
    {"type": "decline", "offer_id": id}                                          Decline
    {"type": "rejoin", "call_id": id, "sdp": WebRTC offer SDP}  (a reloaded page) Rejoin
    {"type": "mute", "on": bool}                                                 Mute
    {"type": "hold", "on": bool}                                                 Hold
    {"type": "dtmf", "digits": "[0-9*#]{1,32}"}                                  SendDtmf
    {"type": "hangup"}                                                           Hangup
    {"type": "transfer", "to": {"agent": id} | {"queue": name}}   (blind)        Transfer
    {"type": "consult", "to": {"agent": id}}                                     Consult
    {"type": "consult_complete"}                                                 ConsultComplete
    {"type": "consult_cancel"}                                                   ConsultCancel
    {"type": "wrapup", "disposition": text (1-64), "notes": text (<= 4000)}      Wrapup
    {"type": "ping"}                      answered {"type": "pong"} by the web   Ping
                                          layer itself; never reaches the service

Text conversations (chat, SMS, WhatsApp, email; `routing.conversations`, the contract in
`TextConversations` of `centralita.desk`):

    {"type": "conversation_accept", "offer_id": id}   take an offer        ConversationAccept
    {"type": "conversation_decline", "offer_id": id}  leave it to others   ConversationDecline
    {"type": "conversation_read", "id": int}          open now: unread 0   ConversationRead
    {"type": "conversation_close", "id": int}         end it (not the case) ConversationClose

Server → desk messages are plain dicts the `DeskService` builds (hello, state, offer,
offer_withdrawn, answer_sdp, call, wrapup, wrapup_saved, directory, error, pong, and for text
conversations conversation_offer, conversation_offer_withdrawn, conversation,
conversation_closed, coached {call_id, mode: listen|whisper|barge|null}; `hello` carries
`conversations`, `conversation_offers` and `coached`); `answer_sdp`
carries `offer_id` for an accept and `rejoin` (the call id) for a rejoin. A page that opens
while its agent is on a call (`hello` has a `call`) sends `rejoin` to get its audio back; the page
renders them. The page leaves its wrap-up form on `wrapup_saved` (or the next `state` after
it sent `wrapup`); an `error` with `command: "accept"` or code `bad_offer` ends its answer.
A refused command is answered `{"type": "error", "code", "message", "where"?, "command"?}`:
`where` names the offending field (`sdp`, `to.agent`), `command` the command's type.
An `offer` (a call) and a conversation carry `repeat`: null, or `{"contacts": n, "days": d,
"boost": points}` when the customer is making a repeat contact that went ahead of the line
(`routing.repeat`); the page says it in a sentence.

Errors:

    DeskProtocolError   a message that is not a valid command (the web layer answers it)
    DeskError           a valid command the service refuses now (no call, unknown agent...)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, Self, TypeAlias

from web.jsonbody import JsonBodyError, loads

MAX_SDP = 64 * 1024
MAX_DTMF = 32
MAX_DISPOSITION = 64
MAX_NOTES = 4000
MAX_REASON = 100  # as routing's agent-state API (routing.config.MAX_REASON)
MAX_ROW_ID = 2**63 - 1  # a conversation is an interaction row (a 64-bit key at most)

AgentStateName = Literal["available", "break", "offline"]
AGENT_STATES: tuple[AgentStateName, ...] = ("available", "break", "offline")

# Offer ids are the server's own tokens; agent ids and queue names follow routing's names.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")
# Call ids come from SIP Call-IDs (any visible ASCII) or are ours.
_CALL_ID_RE = re.compile(r"[!-~]{1,128}\Z")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
_DTMF_RE = re.compile(rf"[0-9*#]{{1,{MAX_DTMF}}}\Z")
# Control characters other than tab and line breaks (allowed in notes only).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class DeskProtocolError(Exception):
    """A desk message that is not a valid command: what is wrong and which field (`where`)."""

    def __init__(self, code: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where

    def to_json(self) -> dict[str, Any]:
        """The `error` message the desk receives."""
        return error_message(self.code, self.message, self.where)


class DeskError(Exception):
    """A valid command the desk service refuses (raised by `DeskService.command`)."""

    def __init__(self, code: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where

    def to_json(self) -> dict[str, Any]:
        """The `error` message the desk receives."""
        return error_message(self.code, self.message, self.where)


def error_message(code: str, message: str, where: str | None = None) -> dict[str, Any]:
    """`{"type": "error", "code", "message", "where"?}`."""
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if where is not None:
        body["where"] = where
    return body


class _Fields:
    """The keys of one command object, read with checks that name the field on failure."""

    def __init__(self, data: Mapping[str, Any], allowed: tuple[str, ...], prefix: str = "") -> None:
        self._data = data
        self._prefix = prefix
        for key in data:
            if key not in allowed and not (prefix == "" and key == "type"):
                known = ", ".join(allowed) if allowed else "none"
                raise DeskProtocolError(
                    "unknown_field", f"unknown field {key!r} (allowed: {known})", self._at(key)
                )

    def _at(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def _get(self, key: str, required: bool) -> Any:
        if key not in self._data:
            if required:
                raise DeskProtocolError("missing_field", f"{self._at(key)} is required", self._at(key))
            return None
        return self._data[key]

    def text(
        self,
        key: str,
        *,
        max_len: int,
        min_len: int = 1,
        required: bool = True,
        multiline: bool = False,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
    ) -> str | None:
        value = self._get(key, required)
        if value is None and not required:
            return None
        where = self._at(key)
        if not isinstance(value, str):
            raise DeskProtocolError("invalid_field", f"{where} must be a string", where)
        if not min_len <= len(value) <= max_len:
            raise DeskProtocolError(
                "invalid_field", f"{where} must be {min_len}-{max_len} characters, got {len(value)}", where
            )
        control = _CONTROL_RE if multiline else _LINE_CONTROL_RE
        if control.search(value):
            raise DeskProtocolError("invalid_field", f"{where} contains control characters", where)
        if pattern is not None and not pattern.match(value):
            raise DeskProtocolError("invalid_field", f"{where} must be {rule}", where)
        return value

    def required_text(self, key: str, **kwargs: Any) -> str:
        value = self.text(key, required=True, **kwargs)
        assert value is not None
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key, True)
        if not isinstance(value, bool):
            raise DeskProtocolError("invalid_field", f"{self._at(key)} must be true or false", self._at(key))
        return value

    def row_id(self, key: str) -> int:
        """A positive integer id (a JSON number without a fraction; not a boolean)."""
        value = self._get(key, True)
        where = self._at(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DeskProtocolError("invalid_field", f"{where} must be an integer id", where)
        if not 1 <= value <= MAX_ROW_ID:
            raise DeskProtocolError(
                "invalid_field", f"{where} must be between 1 and {MAX_ROW_ID}, got {value}", where)
        return value

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self._get(key, True)
        if not isinstance(value, dict):
            raise DeskProtocolError("invalid_field", f"{self._at(key)} must be an object", self._at(key))
        return value


def _agent_id(fields: _Fields, key: str = "agent") -> str:
    return fields.required_text(key, max_len=64, pattern=_NAME_RE, rule=_NAME_RULE)


def _offer_id(fields: _Fields) -> str:
    return fields.required_text(
        "offer_id", max_len=128, pattern=_ID_RE, rule="an offer id from an offer message"
    )


# --- transfer targets -----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentTarget:
    """Another agent, by id (the user name)."""

    agent: str

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent}


@dataclass(frozen=True)
class QueueTarget:
    """A queue, by name."""

    queue: str

    def to_json(self) -> dict[str, Any]:
        return {"queue": self.queue}


Target: TypeAlias = AgentTarget | QueueTarget


def _target(fields: _Fields, *, queues: bool) -> Target:
    raw = fields.mapping("to")
    allowed = ("agent", "queue") if queues else ("agent",)
    inner = _Fields(raw, allowed, prefix="to.")
    if queues and "queue" in raw and "agent" not in raw:
        return QueueTarget(inner.required_text("queue", max_len=64, pattern=_NAME_RE, rule=_NAME_RULE))
    if "agent" in raw and "queue" in raw:
        raise DeskProtocolError("invalid_field", "to names an agent or a queue, not both", "to")
    return AgentTarget(_agent_id(inner))


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bare:
    """A command with no fields but its type."""

    TYPE: ClassVar[str]

    @classmethod
    def parse(cls, fields: _Fields) -> Self:
        return cls()

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE}


@dataclass(frozen=True)
class _Switch:
    """A command that turns something on or off (`on`)."""

    TYPE: ClassVar[str]
    on: bool

    @classmethod
    def parse(cls, fields: _Fields) -> Self:
        return cls(fields.flag("on"))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "on": self.on}


@dataclass(frozen=True)
class SetState:
    """The agent moves themselves: available, on a break (with a reason) or offline."""

    TYPE: ClassVar[str] = "state"
    state: AgentStateName
    reason: str | None = None

    @classmethod
    def parse(cls, fields: _Fields) -> SetState:
        raw = fields.required_text("state", max_len=16)
        state = next((s for s in AGENT_STATES if s == raw), None)
        if state is None:
            raise DeskProtocolError(
                "invalid_field", f"state must be one of {', '.join(AGENT_STATES)}", "state"
            )
        reason = fields.text("reason", max_len=MAX_REASON, required=False)
        if reason is not None and state != "break":
            raise DeskProtocolError("invalid_field", "only a break takes a reason", "reason")
        return cls(state, reason)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE, "state": self.state}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Accept:
    """Answer an offer; `sdp` is the browser's WebRTC offer (ICE gathered, no trickle)."""

    TYPE: ClassVar[str] = "accept"
    offer_id: str
    sdp: str

    @classmethod
    def parse(cls, fields: _Fields) -> Accept:
        return cls(_offer_id(fields), _sdp_offer(fields))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "offer_id": self.offer_id, "sdp": self.sdp}


@dataclass(frozen=True)
class Rejoin:
    """A reloaded desk page's new audio for the call its agent is on (`call_id` from hello)."""

    TYPE: ClassVar[str] = "rejoin"
    call_id: str
    sdp: str

    @classmethod
    def parse(cls, fields: _Fields) -> Rejoin:
        call_id = fields.required_text("call_id", max_len=128, pattern=_CALL_ID_RE,
                                       rule="the call id from hello")
        return cls(call_id, _sdp_offer(fields))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "call_id": self.call_id, "sdp": self.sdp}


def _sdp_offer(fields: _Fields) -> str:
    sdp = fields.required_text("sdp", max_len=MAX_SDP, multiline=True)
    if len(sdp.encode()) > MAX_SDP:
        raise DeskProtocolError("invalid_field", f"sdp is over {MAX_SDP} bytes", "sdp")
    if not sdp.startswith("v=0"):
        raise DeskProtocolError("invalid_field", "sdp must be an SDP offer (v=0...)", "sdp")
    return sdp


@dataclass(frozen=True)
class Decline:
    """Refuse an offer."""

    TYPE: ClassVar[str] = "decline"
    offer_id: str

    @classmethod
    def parse(cls, fields: _Fields) -> Decline:
        return cls(_offer_id(fields))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "offer_id": self.offer_id}


@dataclass(frozen=True)
class Mute(_Switch):
    """Mute (on) or unmute the agent's microphone toward the caller."""

    TYPE: ClassVar[str] = "mute"


@dataclass(frozen=True)
class Hold(_Switch):
    """Put the caller on hold (music) or take them off it."""

    TYPE: ClassVar[str] = "hold"


@dataclass(frozen=True)
class SendDtmf:
    """Send DTMF digits to the caller's side (an IVR the agent reached)."""

    TYPE: ClassVar[str] = "dtmf"
    digits: str

    @classmethod
    def parse(cls, fields: _Fields) -> SendDtmf:
        return cls(fields.required_text(
            "digits", max_len=MAX_DTMF, pattern=_DTMF_RE, rule=f"1-{MAX_DTMF} of 0-9, * and #"
        ))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "digits": self.digits}

    def __repr__(self) -> str:
        # Digits may be a card number: never in logs or tracebacks (STYLE.md §12).
        return f"SendDtmf(digits=<{len(self.digits)} digits>)"


@dataclass(frozen=True)
class Hangup(_Bare):
    """End the call."""

    TYPE: ClassVar[str] = "hangup"


@dataclass(frozen=True)
class Transfer:
    """Blind transfer of the caller to another agent or a queue."""

    TYPE: ClassVar[str] = "transfer"
    to: Target

    @classmethod
    def parse(cls, fields: _Fields) -> Transfer:
        return cls(_target(fields, queues=True))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "to": self.to.to_json()}


@dataclass(frozen=True)
class Consult:
    """Attended transfer, first step: call another agent while the caller holds."""

    TYPE: ClassVar[str] = "consult"
    to: AgentTarget

    @classmethod
    def parse(cls, fields: _Fields) -> Consult:
        target = _target(fields, queues=False)
        assert isinstance(target, AgentTarget)
        return cls(target)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "to": self.to.to_json()}


@dataclass(frozen=True)
class ConsultComplete(_Bare):
    """Attended transfer, done: the caller goes to the consulted agent."""

    TYPE: ClassVar[str] = "consult_complete"


@dataclass(frozen=True)
class ConsultCancel(_Bare):
    """Attended transfer, abandoned: back to the caller."""

    TYPE: ClassVar[str] = "consult_cancel"


@dataclass(frozen=True)
class Wrapup:
    """The wrap-up of the last call: a disposition and notes, saved to the case."""

    TYPE: ClassVar[str] = "wrapup"
    disposition: str
    notes: str

    @classmethod
    def parse(cls, fields: _Fields) -> Wrapup:
        disposition = fields.required_text("disposition", max_len=MAX_DISPOSITION)
        if not disposition.strip():
            raise DeskProtocolError("invalid_field", "disposition must not be blank", "disposition")
        notes = fields.required_text("notes", min_len=0, max_len=MAX_NOTES, multiline=True)
        return cls(disposition, notes)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "disposition": self.disposition, "notes": self.notes}


@dataclass(frozen=True)
class _ConversationOffer:
    """A command about an offered text conversation (`offer_id` from conversation_offer)."""

    TYPE: ClassVar[str]
    offer_id: str

    @classmethod
    def parse(cls, fields: _Fields) -> Self:
        return cls(_offer_id(fields))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "offer_id": self.offer_id}


@dataclass(frozen=True)
class _ConversationCommand:
    """A command about one of the agent's text conversations (`id`: its interaction id)."""

    TYPE: ClassVar[str]
    id: int

    @classmethod
    def parse(cls, fields: _Fields) -> Self:
        return cls(fields.row_id("id"))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id}


@dataclass(frozen=True)
class ConversationAccept(_ConversationOffer):
    """Take an offered chat, SMS, WhatsApp or email conversation."""

    TYPE: ClassVar[str] = "conversation_accept"


@dataclass(frozen=True)
class ConversationDecline(_ConversationOffer):
    """Leave an offered conversation to another agent."""

    TYPE: ClassVar[str] = "conversation_decline"


@dataclass(frozen=True)
class ConversationRead(_ConversationCommand):
    """The agent has the conversation open: its unread count goes back to zero."""

    TYPE: ClassVar[str] = "conversation_read"


@dataclass(frozen=True)
class ConversationClose(_ConversationCommand):
    """End the conversation (its interaction on the case; the case stays open)."""

    TYPE: ClassVar[str] = "conversation_close"


@dataclass(frozen=True)
class Ping(_Bare):
    """Liveness check from the page; the web layer answers `pong`."""

    TYPE: ClassVar[str] = "ping"


DeskCommand: TypeAlias = (
    SetState | Accept | Decline | Rejoin | Mute | Hold | SendDtmf | Hangup | Transfer | Consult
    | ConsultComplete | ConsultCancel | Wrapup | Ping
    | ConversationAccept | ConversationDecline | ConversationRead | ConversationClose
)

# type → (parser, the fields it may carry besides "type")
_COMMANDS: dict[str, tuple[Callable[[_Fields], DeskCommand], tuple[str, ...]]] = {
    SetState.TYPE: (SetState.parse, ("state", "reason")),
    Accept.TYPE: (Accept.parse, ("offer_id", "sdp")),
    Decline.TYPE: (Decline.parse, ("offer_id",)),
    Rejoin.TYPE: (Rejoin.parse, ("call_id", "sdp")),
    Mute.TYPE: (Mute.parse, ("on",)),
    Hold.TYPE: (Hold.parse, ("on",)),
    SendDtmf.TYPE: (SendDtmf.parse, ("digits",)),
    Hangup.TYPE: (Hangup.parse, ()),
    Transfer.TYPE: (Transfer.parse, ("to",)),
    Consult.TYPE: (Consult.parse, ("to",)),
    ConsultComplete.TYPE: (ConsultComplete.parse, ()),
    ConsultCancel.TYPE: (ConsultCancel.parse, ()),
    Wrapup.TYPE: (Wrapup.parse, ("disposition", "notes")),
    Ping.TYPE: (Ping.parse, ()),
    ConversationAccept.TYPE: (ConversationAccept.parse, ("offer_id",)),
    ConversationDecline.TYPE: (ConversationDecline.parse, ("offer_id",)),
    ConversationRead.TYPE: (ConversationRead.parse, ("id",)),
    ConversationClose.TYPE: (ConversationClose.parse, ("id",)),
}
COMMAND_TYPES: tuple[str, ...] = tuple(_COMMANDS)


def parse_command(data: object) -> DeskCommand:
    """The command in `data` (a decoded JSON value); `DeskProtocolError` naming the field."""
    if not isinstance(data, dict):
        raise DeskProtocolError("invalid_message", "a command is a JSON object", None)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise DeskProtocolError("missing_field", "type is required (a string)", "type")
    entry = _COMMANDS.get(kind)
    if entry is None:
        raise DeskProtocolError(
            "unknown_type", f"unknown command type {kind[:40]!r} (known: {', '.join(COMMAND_TYPES)})",
            "type",
        )
    parser, allowed = entry
    return parser(_Fields(data, allowed))


def parse_command_text(text: str) -> DeskCommand:
    """The command in one WebSocket text frame; `DeskProtocolError` for bad JSON too."""
    try:
        # The one JSON reader (web.jsonbody): nesting is bounded before decoding, so a
        # 100,000-deep frame is an error message here, not a RecursionError that kills the desk.
        data = loads(text, context="a desk message")
    except JsonBodyError as exc:
        raise DeskProtocolError("invalid_json", exc.message, None) from None
    return parse_command(data)


class DeskLink(Protocol):
    """One agent's open desk, as the service sees it (`web.desk.link.DeskConnection`).

    `send` never blocks: messages go to a bounded queue; a desk that does not read is
    closed and the rest of what is sent to it is dropped.
    """

    agent_id: str

    async def send(self, message: dict[str, Any]) -> None: ...


class DeskService(Protocol):
    """What the desk WebSocket drives; `centralita.desk.DeskHub` implements it.

    `connect`: a desk opened (the service sends it "hello"). `command` raises `DeskError`
    for a command it refuses, which the link sends to the page as an "error" message.
    """

    async def connect(self, link: DeskLink) -> None: ...

    async def disconnect(self, link: DeskLink) -> None: ...

    async def command(self, link: DeskLink, message: DeskCommand) -> None: ...
