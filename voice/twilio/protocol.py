"""Twilio Media Streams messages as dataclasses, each with `parse()` and `to_json()` (STYLE §2).

From Twilio (JSON text frames; every number Twilio sends as a *string* stays a string on the
wire and is an `int` here):

    connected  {"event":"connected","protocol":"Call","version":"1.0.0"}
    start      {"event":"start","sequenceNumber":"1","streamSid":"MZ..","start":{"accountSid",
                "streamSid","callSid","tracks":["inbound"],"customParameters":{..},
                "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}
    media      {"event":"media","sequenceNumber":"3","streamSid":"MZ..","media":{"track":
                "inbound","chunk":"1","timestamp":"5","payload":"<base64 µ-law>"}}
    dtmf       {"event":"dtmf","sequenceNumber":"5","streamSid":"MZ..","dtmf":{"track":
                "inbound_track","digit":"1"}}
    mark       {"event":"mark","sequenceNumber":"4","streamSid":"MZ..","mark":{"name":"p1"}}
    stop       {"event":"stop","sequenceNumber":"6","streamSid":"MZ..","stop":{"accountSid",
                "callSid"}}

To Twilio (bidirectional streams, `<Connect><Stream>`): `media` (payload only), `mark`
(echoed back once the audio sent before it has been played), `clear` (drop the audio Twilio
holds; it echoes the marks it drops).

`parse_inbound(text)` returns one of the inbound classes or raises `StreamProtocolError`
saying what is wrong and where (`media.chunk`, `start.mediaFormat.encoding`...). Clients (the
test helper, the bench) parse what the server sends with `parse_outbound`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Clear", "Connected", "Dtmf", "InboundMessage", "Mark", "Media", "MediaFormat",
    "OutboundMessage", "OutMark", "OutMedia", "Start", "Stop", "StreamProtocolError",
    "parse_inbound", "parse_outbound",
]

#: A Twilio text frame is a few hundred bytes (a 20 ms media payload is 216 base64 chars);
#: anything far larger is not Twilio's and is refused before JSON parsing.
MAX_MESSAGE_CHARS = 64 * 1024
#: 20 ms of µ-law is 160 bytes; Twilio sends 20 ms chunks, but a peer may send up to 1 s.
MAX_PAYLOAD_BYTES = 8000
MULAW = "audio/x-mulaw"
DTMF_DIGITS = frozenset("0123456789*#ABCD")
_SID = {"MZ": re.compile(r"MZ[0-9a-fA-F]{32}"), "CA": re.compile(r"CA[0-9a-fA-F]{32}"),
        "AC": re.compile(r"AC[0-9a-fA-F]{32}")}
_MAX_PAYLOAD_CHARS = MAX_PAYLOAD_BYTES * 4 // 3 + 4
_MAX_PARAMS = 32
_MAX_PARAM_CHARS = 1024


class StreamProtocolError(ValueError):
    """A frame that is not a Media Streams message; `where` names the field."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{where}: {what}")
        self.what = what
        self.where = where


# -- field readers ------------------------------------------------------------------------------

def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StreamProtocolError("must be an object", where)
    return value


def _text(obj: dict[str, Any], key: str, where: str, *, limit: int = 256) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise StreamProtocolError("missing or not a string", f"{where}.{key}" if where else key)
    if len(value) > limit:
        raise StreamProtocolError(f"longer than {limit} characters",
                                  f"{where}.{key}" if where else key)
    return value


def _counter(obj: dict[str, Any], key: str, where: str) -> int:
    """A decimal counter Twilio sends as a string ("1"); a bare number is accepted too."""
    value = obj.get(key)
    name = f"{where}.{key}" if where else key
    if isinstance(value, bool):
        raise StreamProtocolError("must be a decimal string", name)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        number = int(value)
    else:
        raise StreamProtocolError("missing or not a decimal string", name)
    if number < 0:
        raise StreamProtocolError("must not be negative", name)
    return number


def _sid(obj: dict[str, Any], key: str, prefix: str, where: str) -> str:
    value = _text(obj, key, where, limit=34)
    if not _SID[prefix].fullmatch(value):
        raise StreamProtocolError(f"not a Twilio id ({prefix} and 32 hex digits)",
                                  f"{where}.{key}" if where else key)
    return value


def _seq(obj: dict[str, Any]) -> int:
    return _counter(obj, "sequenceNumber", "")


# -- inbound (Twilio -> us) ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Connected:
    """The first message of a stream."""

    protocol: str = "Call"
    version: str = "1.0.0"

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Connected:
        return cls(_text(obj, "protocol", ""), _text(obj, "version", ""))

    def to_json(self) -> str:
        return json.dumps({"event": "connected", "protocol": self.protocol,
                           "version": self.version})


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str = MULAW
    sample_rate: int = 8000
    channels: int = 1

    @classmethod
    def parse(cls, value: Any, where: str) -> MediaFormat:
        obj = _obj(value, where)
        encoding = _text(obj, "encoding", where)
        rate, channels = obj.get("sampleRate"), obj.get("channels")
        if encoding != MULAW:
            raise StreamProtocolError(f"only {MULAW} is supported, got {encoding[:40]!r}",
                                      f"{where}.encoding")
        if rate != 8000 or isinstance(rate, bool):
            raise StreamProtocolError("must be 8000", f"{where}.sampleRate")
        if channels != 1 or isinstance(channels, bool):
            raise StreamProtocolError("must be 1", f"{where}.channels")
        return cls(encoding, 8000, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "sampleRate": self.sample_rate,
                "channels": self.channels}


@dataclass(frozen=True, slots=True)
class Start:
    """The stream's metadata; `custom_parameters` are the TwiML `<Parameter>`s."""

    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str]
    media_format: MediaFormat = field(default_factory=MediaFormat)

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Start:
        seq = _seq(obj)
        body = _obj(obj.get("start"), "start")
        stream_sid = _sid(body, "streamSid", "MZ", "start")
        tracks = body.get("tracks")
        if not isinstance(tracks, list) or not tracks or not all(
                t in ("inbound", "outbound") for t in tracks):
            raise StreamProtocolError('a list of "inbound" / "outbound"', "start.tracks")
        params = body.get("customParameters", {})
        params = _obj(params, "start.customParameters")
        if len(params) > _MAX_PARAMS:
            raise StreamProtocolError(f"at most {_MAX_PARAMS} parameters",
                                      "start.customParameters")
        for key, value in params.items():
            if not isinstance(value, str) or len(value) > _MAX_PARAM_CHARS or len(key) > 64:
                raise StreamProtocolError("parameters are short strings",
                                          f"start.customParameters.{key[:64]}")
        return cls(seq, stream_sid, _sid(body, "accountSid", "AC", "start"),
                   _sid(body, "callSid", "CA", "start"), tuple(tracks), dict(params),
                   MediaFormat.parse(body.get("mediaFormat"), "start.mediaFormat"))

    def to_json(self) -> str:
        return json.dumps({
            "event": "start", "sequenceNumber": str(self.sequence_number),
            "start": {"accountSid": self.account_sid, "streamSid": self.stream_sid,
                      "callSid": self.call_sid, "tracks": list(self.tracks),
                      "customParameters": self.custom_parameters,
                      "mediaFormat": self.media_format.to_dict()},
            "streamSid": self.stream_sid})


@dataclass(frozen=True, slots=True)
class Media:
    """One chunk of the caller's audio: `timestamp` in ms from the stream's start."""

    sequence_number: int
    stream_sid: str
    track: str
    chunk: int
    timestamp: int
    payload: bytes

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Media:
        # Fifty of these a second per call: a well-formed one takes the direct path (the
        # same checks, inline); anything odd goes through the field-by-field path below,
        # which says what is wrong and where.
        try:
            body = obj["media"]
            seq, chunk, stamp = obj["sequenceNumber"], body["chunk"], body["timestamp"]
            track, encoded, sid = body["track"], body["payload"], obj["streamSid"]
            if (type(seq) is str and type(chunk) is str and type(stamp) is str
                    and seq.isascii() and seq.isdigit() and len(seq) <= 15
                    and chunk.isascii() and chunk.isdigit() and len(chunk) <= 15
                    and stamp.isascii() and stamp.isdigit() and len(stamp) <= 15
                    and track in ("inbound", "outbound") and type(encoded) is str
                    and 0 < len(encoded) <= _MAX_PAYLOAD_CHARS and type(sid) is str
                    and _SID["MZ"].fullmatch(sid)):
                return cls(int(seq), sid, track, int(chunk), int(stamp),
                           base64.b64decode(encoded, validate=True))
        except (KeyError, TypeError, binascii.Error, ValueError):
            pass
        return cls._parse_checked(obj)

    @classmethod
    def _parse_checked(cls, obj: dict[str, Any]) -> Media:
        seq = _seq(obj)
        body = _obj(obj.get("media"), "media")
        track = _text(body, "track", "media", limit=16)
        if track not in ("inbound", "outbound"):
            raise StreamProtocolError('"inbound" or "outbound"', "media.track")
        encoded = _text(body, "payload", "media", limit=_MAX_PAYLOAD_CHARS)
        try:
            payload = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StreamProtocolError("not base64", "media.payload") from exc
        if not payload:
            raise StreamProtocolError("empty", "media.payload")
        return cls(seq, _sid(obj, "streamSid", "MZ", ""), track,
                   _counter(body, "chunk", "media"), _counter(body, "timestamp", "media"),
                   payload)

    def to_json(self) -> str:
        return json.dumps({
            "event": "media", "sequenceNumber": str(self.sequence_number),
            "media": {"track": self.track, "chunk": str(self.chunk),
                      "timestamp": str(self.timestamp),
                      "payload": base64.b64encode(self.payload).decode("ascii")},
            "streamSid": self.stream_sid})


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A key the caller pressed (personal data: the repr masks it)."""

    sequence_number: int
    stream_sid: str
    track: str
    digit: str = field(repr=False)

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Dtmf:
        body = _obj(obj.get("dtmf"), "dtmf")
        digit = _text(body, "digit", "dtmf", limit=1)
        if digit not in DTMF_DIGITS:
            raise StreamProtocolError("a key 0-9, *, #, A-D", "dtmf.digit")
        return cls(_seq(obj), _sid(obj, "streamSid", "MZ", ""),
                   _text(body, "track", "dtmf", limit=16), digit)

    def to_json(self) -> str:
        return json.dumps({"event": "dtmf", "streamSid": self.stream_sid,
                           "sequenceNumber": str(self.sequence_number),
                           "dtmf": {"track": self.track, "digit": self.digit}})


@dataclass(frozen=True, slots=True)
class Mark:
    """Twilio's echo of a mark we sent: the audio before it has been played (or cleared)."""

    sequence_number: int
    stream_sid: str
    name: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Mark:
        body = _obj(obj.get("mark"), "mark")
        return cls(_seq(obj), _sid(obj, "streamSid", "MZ", ""), _text(body, "name", "mark"))

    def to_json(self) -> str:
        return json.dumps({"event": "mark", "sequenceNumber": str(self.sequence_number),
                           "streamSid": self.stream_sid, "mark": {"name": self.name}})


@dataclass(frozen=True, slots=True)
class Stop:
    """The stream ended (the caller hung up, or the call moved on)."""

    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Stop:
        body = _obj(obj.get("stop"), "stop")
        return cls(_seq(obj), _sid(obj, "streamSid", "MZ", ""),
                   _sid(body, "accountSid", "AC", "stop"), _sid(body, "callSid", "CA", "stop"))

    def to_json(self) -> str:
        return json.dumps({"event": "stop", "sequenceNumber": str(self.sequence_number),
                           "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                           "streamSid": self.stream_sid})


InboundMessage = Connected | Start | Media | Dtmf | Mark | Stop
_INBOUND: dict[str, Any] = {"connected": Connected, "start": Start, "media": Media,
                            "dtmf": Dtmf, "mark": Mark, "stop": Stop}


def _load(text: str | bytes) -> dict[str, Any]:
    if isinstance(text, bytes):
        raise StreamProtocolError("Media Streams messages are text frames, got binary",
                                  "frame")
    if len(text) > MAX_MESSAGE_CHARS:
        raise StreamProtocolError(f"longer than {MAX_MESSAGE_CHARS} characters", "frame")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StreamProtocolError(f"not JSON ({exc.msg} at character {exc.pos})",
                                  "frame") from exc
    return _obj(value, "frame")


def parse_inbound(text: str | bytes) -> InboundMessage:
    """One message Twilio sent; `StreamProtocolError` naming the bad field otherwise."""
    obj = _load(text)
    event = obj.get("event")
    kind = _INBOUND.get(event) if isinstance(event, str) else None
    if kind is None:
        shown = repr(event)[:40]
        raise StreamProtocolError(f"unknown event {shown}", "event")
    message: InboundMessage = kind.parse(obj)
    return message


# -- outbound (us -> Twilio) --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OutMedia:
    """Audio for Twilio to play: µ-law 8 kHz, base64 on the wire."""

    stream_sid: str
    payload: bytes

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> OutMedia:
        body = _obj(obj.get("media"), "media")
        try:
            payload = base64.b64decode(_text(body, "payload", "media", limit=MAX_MESSAGE_CHARS),
                                       validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StreamProtocolError("not base64", "media.payload") from exc
        return cls(_sid(obj, "streamSid", "MZ", ""), payload)

    def to_json(self) -> str:
        # Built by hand: this runs every 20 ms per leg, and the format is fixed.
        return ('{"event":"media","streamSid":"' + self.stream_sid
                + '","media":{"payload":"' + base64.b64encode(self.payload).decode("ascii")
                + '"}}')


@dataclass(frozen=True, slots=True)
class OutMark:
    """Ask Twilio to tell us when the audio sent so far has been played."""

    stream_sid: str
    name: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> OutMark:
        body = _obj(obj.get("mark"), "mark")
        return cls(_sid(obj, "streamSid", "MZ", ""), _text(body, "name", "mark"))

    def to_json(self) -> str:
        return json.dumps({"event": "mark", "streamSid": self.stream_sid,
                           "mark": {"name": self.name}})


@dataclass(frozen=True, slots=True)
class Clear:
    """Drop the audio Twilio still holds (barge-in)."""

    stream_sid: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Clear:
        return cls(_sid(obj, "streamSid", "MZ", ""))

    def to_json(self) -> str:
        return json.dumps({"event": "clear", "streamSid": self.stream_sid})


OutboundMessage = OutMedia | OutMark | Clear
_OUTBOUND: dict[str, Any] = {"media": OutMedia, "mark": OutMark, "clear": Clear}


def parse_outbound(text: str | bytes) -> OutboundMessage:
    """One message our server sends to Twilio (what a client reads)."""
    obj = _load(text)
    event = obj.get("event")
    kind = _OUTBOUND.get(event) if isinstance(event, str) else None
    if kind is None:
        raise StreamProtocolError(f"unknown event {repr(event)[:40]}", "event")
    message: OutboundMessage = kind.parse(obj)
    return message
