"""The worker's stdout protocol: one JSON object per line.

``call`` mode prints exactly one :class:`CallResult` line when it ends.
``listen`` mode prints one :class:`Ready` line at startup, then one
:class:`CallEnded` line per finished call.  Each type is a dataclass with
``parse()`` (validating, raising :class:`ProtocolError`) and ``to_json()``;
the worker and the client share this module so the format lives in one place.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


class ProtocolError(ValueError):
    """A worker stdout line is not the JSON object it should be."""


def _load(line: str | bytes) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"worker line is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError(f"worker line is not a JSON object: {type(obj).__name__}")
    return obj


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in obj:
        raise ProtocolError(f"worker line lacks {name!r}")
    value = obj[name]
    # bool is an int subclass; a status code of True is a bug, not a 1.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ProtocolError(f"{name!r} must be {kind}, got bool")
    if not isinstance(value, kind):
        raise ProtocolError(f"{name!r} must be {kind}, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class CallResult:
    """Outcome of one outbound call made by the worker's ``call`` mode."""

    connected: bool
    """True once the call reached the confirmed state (200 OK + ACK)."""
    status: int
    """Last SIP status code seen on the call (0 if none was received)."""
    reason: str
    """Reason phrase that came with :attr:`status`."""
    duration: float
    """Seconds between answer and disconnect (0.0 if never connected)."""
    remote_hangup: bool
    """True when the far end ended the call (BYE or a final failure)."""
    dtmf_sent: str
    """Digits handed to the RFC 4733 sender (empty if none)."""
    error: str | None
    """Local failure (bad WAV, transport error, timeout...), else None."""

    @classmethod
    def parse(cls, line: str | bytes) -> CallResult:
        """Parse the worker's final line; raise :class:`ProtocolError` if malformed."""
        obj = _load(line)
        return cls(
            connected=_field(obj, "connected", bool),
            status=_field(obj, "status", int),
            reason=_field(obj, "reason", str),
            duration=float(_field(obj, "duration", (int, float))),
            remote_hangup=_field(obj, "remote_hangup", bool),
            dtmf_sent=_field(obj, "dtmf_sent", str),
            error=_field(obj, "error", (str, type(None))),
        )

    def to_json(self) -> str:
        """Serialize as one JSON line (no trailing newline)."""
        return json.dumps(asdict(self))


@dataclass(frozen=True, slots=True)
class Ready:
    """The listener is bound and will answer calls on :attr:`port`."""

    port: int

    @classmethod
    def parse(cls, line: str | bytes) -> Ready:
        """Parse a ``{"event": "ready"}`` line."""
        obj = _load(line)
        if obj.get("event") != "ready":
            raise ProtocolError(f"expected a ready event, got {obj.get('event')!r}")
        return cls(port=_field(obj, "port", int))

    def to_json(self) -> str:
        """Serialize as one JSON line (no trailing newline)."""
        return json.dumps({"event": "ready", "port": self.port})


@dataclass(frozen=True, slots=True)
class CallEnded:
    """One call the listener answered (or rejected) has ended."""

    from_: str
    """Remote party URI (the From header), serialized as ``"from"``."""
    status: int
    """Last SIP status code of the call."""
    duration: float
    """Seconds between answer and disconnect (0.0 if never answered)."""
    recorded: str | None
    """Path of the WAV holding what the listener heard, if it recorded."""
    dtmf: str
    """Digits received (RFC 4733 or SIP INFO), in order."""
    remote_hangup: bool
    """True when the caller ended the call."""

    @classmethod
    def parse(cls, line: str | bytes) -> CallEnded:
        """Parse a ``{"event": "call_ended"}`` line."""
        obj = _load(line)
        if obj.get("event") != "call_ended":
            raise ProtocolError(f"expected a call_ended event, got {obj.get('event')!r}")
        return cls(
            from_=_field(obj, "from", str),
            status=_field(obj, "status", int),
            duration=float(_field(obj, "duration", (int, float))),
            recorded=_field(obj, "recorded", (str, type(None))),
            dtmf=_field(obj, "dtmf", str),
            remote_hangup=_field(obj, "remote_hangup", bool),
        )

    def to_json(self) -> str:
        """Serialize as one JSON line (no trailing newline)."""
        return json.dumps(
            {
                "event": "call_ended",
                "from": self.from_,
                "status": self.status,
                "duration": self.duration,
                "recorded": self.recorded,
                "dtmf": self.dtmf,
                "remote_hangup": self.remote_hangup,
            }
        )


def parse_event(line: str | bytes) -> Ready | CallEnded:
    """Parse any line the listener prints."""
    event = _load(line).get("event")
    if event == "ready":
        return Ready.parse(line)
    if event == "call_ended":
        return CallEnded.parse(line)
    raise ProtocolError(f"unknown listener event {event!r}")
