"""SDP (RFC 4566) as dataclasses, and the audio offer/answer of RFC 3264.

`SessionDescription.parse()` raises `SdpError` (what, and on which line) for anything it can't
read and nothing else; `bytes()` / `str()` give the wire form with CRLF line ends. The
structured fields are typed; attributes stay an ordered list so nothing a peer sent is lost.

Negotiation covers what our media layer does: PCMU (0), PCMA (8) and telephone-event/8000
(events 0-16) over RTP/AVP. `answer_offer()` and `accept_answer()` return `MediaParams`, the
few facts the RTP session needs (remote address and ports, codec, DTMF payload type,
direction).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import re
from dataclasses import dataclass, field

MAX_SDP_SIZE = 65_535
HOLD_ADDRESS = "0.0.0.0"  # RFC 2543 hold: "don't send to me"

_DIGITS_RE = re.compile(r"^[0-9]{1,20}$")


class SdpError(Exception):
    """A session description is malformed or can't be negotiated.

    `what` says what is wrong; `line` is the 1-based line number when it came from parsing.
    """

    def __init__(self, what: str, line: int | None = None) -> None:
        super().__init__(f"SDP line {line}: {what}" if line is not None else f"SDP: {what}")
        self.what = what
        self.line = line


class NoCommonCodec(SdpError):
    """The offer has no audio stream we can take (answer 488 Not Acceptable Here)."""


def _int(text: str, what: str, line: int | None, lo: int = 0, hi: int = 2**64) -> int:
    # A regex, not str.isdigit(): isdigit() accepts "²", which int() then refuses.
    if not _DIGITS_RE.match(text):
        raise SdpError(f"bad {what} {text!r}", line)
    value = int(text)
    if not lo <= value <= hi:
        raise SdpError(f"bad {what} {text!r}", line)
    return value


class Direction(enum.StrEnum):
    """A stream's direction as its sender declares it (RFC 3264 §5.1)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def of(cls, sends: bool, receives: bool) -> Direction:
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE

    def reverse(self) -> Direction:
        """The direction seen from the other end (sendonly ↔ recvonly)."""
        return Direction.of(self.receives, self.sends)


_DIRECTIONS = frozenset(d.value for d in Direction)


# --- the description itself -----------------------------------------------------------------


@dataclass
class Origin:
    """`o=<username> <sess-id> <sess-version> IN IP4 <address>`."""

    address: str
    username: str = "-"
    session_id: int = 0
    version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, value: str, line: int | None = None) -> Origin:
        parts = value.split()
        if len(parts) != 6:
            raise SdpError("o= needs 6 fields", line)
        user, sid, ver, net, addr_t, addr = parts
        sid_n = _int(sid, "session id", line)
        return cls(addr, user, sid_n, _int(ver, "session version", line), net, addr_t)

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass
class Connection:
    """`c=IN IP4 <address>` (a multicast `/ttl` suffix stays part of `address`)."""

    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, value: str, line: int | None = None) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise SdpError("c= needs 3 fields", line)
        if parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
            raise SdpError(f"unsupported connection type {parts[0]} {parts[1]}", line)
        return cls(parts[2], parts[0], parts[1])

    @property
    def host(self) -> str:
        return self.address.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass
class Attribute:
    """`a=name` (a flag) or `a=name:value`."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Attribute:
        name, sep, value = text.partition(":")
        return cls(name, value if sep else None)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True)
class RtpMap:
    """`a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    @classmethod
    def parse(cls, value: str, line: int | None = None) -> RtpMap:
        # Each offer's rtpmaps are read three times (checked at parse, then by the codec and
        # the telephone-event pick), and peers send the same few strings call after call: a
        # string -> RtpMap memo turns those parses into a dict hit. RtpMap is frozen, so one
        # instance can be shared. Kept here rather than on the MediaDescription, which is
        # mutable (build_offer appends attributes) and would need invalidating.
        known = _RTPMAP_MEMO.get(value)
        if known is not None:
            return known
        parsed = cls._parse(value, line)
        if len(_RTPMAP_MEMO) >= _RTPMAP_MEMO_MAX:
            _RTPMAP_MEMO.clear()  # bounded: a peer sending ever new strings can't grow it
        _RTPMAP_MEMO[value] = parsed
        return parsed

    @classmethod
    def _parse(cls, value: str, line: int | None) -> RtpMap:
        pt_text, _, rest = value.strip().partition(" ")
        parts = rest.strip().split("/")
        if len(parts) not in (2, 3) or not parts[0]:
            raise SdpError("rtpmap needs <pt> <encoding>/<rate>", line)
        channels = _int(parts[2], "rtpmap channels", line, 1, 255) if len(parts) == 3 else None
        return cls(
            _int(pt_text, "payload type", line, 0, 127),
            parts[0],
            _int(parts[1], "clock rate", line, 1, 2**32),
            channels,
        )

    def __str__(self) -> str:
        tail = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"


_RTPMAP_MEMO: dict[str, RtpMap] = {}
_RTPMAP_MEMO_MAX = 256


# Static payload types we may meet without an rtpmap (RFC 3551 table 4, audio).
_STATIC: dict[int, RtpMap] = {
    0: RtpMap(0, "PCMU", 8000),
    3: RtpMap(3, "GSM", 8000),
    4: RtpMap(4, "G723", 8000),
    8: RtpMap(8, "PCMA", 8000),
    9: RtpMap(9, "G722", 8000),
    18: RtpMap(18, "G729", 8000),
}


def _check_attribute(attr: Attribute, line: int) -> None:
    """Validate the attributes negotiation reads, so later accessors can't fail."""
    value = attr.value or ""
    if attr.name == "rtpmap":
        RtpMap.parse(value, line)
    elif attr.name == "fmtp":
        _int(value.split(" ", 1)[0], "fmtp payload type", line, 0, 127)
    elif attr.name in ("ptime", "maxptime"):
        _int(value.strip(), attr.name, line, 1, 10_000)
    elif attr.name == "rtcp":
        _parse_rtcp(value, line)


def _parse_rtcp(value: str, line: int | None) -> tuple[int, Connection | None]:
    """`a=rtcp:<port> [IN IP4 <address>]` (RFC 3605)."""
    port_text, _, rest = value.strip().partition(" ")
    port = _int(port_text, "rtcp port", line, 0, 65535)
    return port, Connection.parse(rest, line) if rest.strip() else None


class _HasAttributes:
    attributes: list[Attribute]

    def attribute(self, name: str) -> str | None:
        """The first `a=name:value`'s value ("" for a flag), or None when absent."""
        for attr in self.attributes:
            if attr.name == name:
                return attr.value if attr.value is not None else ""
        return None

    @property
    def direction(self) -> Direction | None:
        """The direction attribute, if one is present."""
        for attr in self.attributes:
            if attr.name in _DIRECTIONS:
                return Direction(attr.name)
        return None

    def set_direction(self, direction: Direction) -> None:
        """Replace any direction attribute with `direction`."""
        self.attributes = [a for a in self.attributes if a.name not in _DIRECTIONS]
        self.attributes.append(Attribute(direction.value))


@dataclass
class MediaDescription(_HasAttributes):
    """One `m=` section."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    title: str | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @classmethod
    def parse_m_line(cls, value: str, line: int | None = None) -> MediaDescription:
        parts = value.split()
        if len(parts) < 3:
            raise SdpError("m= needs <media> <port> <proto> <fmt>...", line)
        media, port_text, proto, *formats = parts
        port_part, slash, count_text = port_text.partition("/")
        port = _int(port_part, "media port", line, 0, 65535)
        count = _int(count_text, "port count", line, 1, 65535) if slash else None
        if not formats and port != 0:
            raise SdpError("m= line without formats", line)
        if proto.upper().startswith("RTP/"):
            for fmt in formats:
                _int(fmt, "payload type", line, 0, 127)
        return cls(media, port, proto, formats, count)

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        """Payload type → mapping for every listed format (static ones without an rtpmap)."""
        explicit: dict[int, RtpMap] = {}
        for attr in self.attributes:
            if attr.name == "rtpmap":
                rtpmap = RtpMap.parse(attr.value or "")
                explicit.setdefault(rtpmap.payload_type, rtpmap)
        out: dict[int, RtpMap] = {}
        for fmt in self.formats:
            if not _DIGITS_RE.match(fmt):
                continue
            pt = int(fmt)
            found = explicit.get(pt) or _STATIC.get(pt)
            if found is not None:
                out[pt] = found
        return out

    def fmtp(self, payload_type: int) -> str | None:
        for attr in self.attributes:
            if attr.name == "fmtp" and attr.value:
                pt, _, params = attr.value.partition(" ")
                if pt == str(payload_type):
                    return params.strip()
        return None

    @property
    def ptime(self) -> int | None:
        value = self.attribute("ptime")
        # Read as the parser checked it (stripped, then `_int`): `int()` alone refuses a value
        # ending in a separator character that `str.strip` removes (found by tests/fuzz).
        return _int(value.strip(), "ptime", None, 1, 10_000) if value else None

    @property
    def rtcp(self) -> tuple[int, Connection | None] | None:
        """The `a=rtcp` port (and address, if given), or None when absent."""
        value = self.attribute("rtcp")
        return _parse_rtcp(value, None) if value is not None else None

    def lines(self) -> list[str]:
        count = f"/{self.port_count}" if self.port_count is not None else ""
        out = [f"m={' '.join([self.media, f'{self.port}{count}', self.proto, *self.formats])}"]
        if self.title is not None:
            out.append(f"i={self.title}")
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        if self.key is not None:
            out.append(f"k={self.key}")
        out.extend(f"a={a}" for a in self.attributes)
        return out


@dataclass
class Timing:
    """`t=<start> <stop>` and its `r=` repeat lines."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)


@dataclass
class SessionDescription(_HasAttributes):
    """A whole SDP body."""

    origin: Origin
    session_name: str = "-"
    version: int = 0
    info: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=lambda: [Timing()])
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        """Parse an SDP body. Unknown line types are ignored (RFC 4566 §5)."""
        if isinstance(data, bytes):
            if len(data) > MAX_SDP_SIZE:
                raise SdpError("body too large")
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SdpError("not UTF-8") from exc
        if len(data) > MAX_SDP_SIZE:
            raise SdpError("body too large")
        return _Parser().run(data)

    def lines(self) -> list[str]:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        for letter, value in (("i", self.info), ("u", self.uri)):
            if value is not None:
                out.append(f"{letter}={value}")
        out.extend(f"e={e}" for e in self.emails)
        out.extend(f"p={p}" for p in self.phones)
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        for timing in self.timings:
            out.append(f"t={timing.start} {timing.stop}")
            out.extend(f"r={r}" for r in timing.repeats)
        if self.zone is not None:
            out.append(f"z={self.zone}")
        if self.key is not None:
            out.append(f"k={self.key}")
        out.extend(f"a={a}" for a in self.attributes)
        for m in self.media:
            out.extend(m.lines())
        return out

    def __str__(self) -> str:
        return "\r\n".join(self.lines()) + "\r\n"

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")


class _Parser:
    """One pass over the lines; session-level fields until the first m=."""

    def __init__(self) -> None:
        self.sdp: SessionDescription | None = None
        self.version: int | None = None
        self.name: str | None = None
        self.current: MediaDescription | None = None

    def run(self, text: str) -> SessionDescription:
        lines = text.split("\n")
        for number, raw in enumerate(lines, start=1):
            line = raw.removesuffix("\r")
            if not line.strip():
                continue  # blank lines (a trailing one above all) are harmless
            # `<letter>=<value>` (letter a-z) by slicing, not a regex match per line.
            letter = line[0]
            if line[1:2] != "=" or not "a" <= letter <= "z":
                raise SdpError("expected '<letter>=<value>'", number)
            if "\r" in line or "\x00" in line:
                raise SdpError("control character in line", number)
            self.line(letter, line[2:], number)
        if self.sdp is None:
            raise SdpError("missing o= line")
        if self.name is None:
            raise SdpError("missing s= line")
        return self.sdp

    def line(self, letter: str, value: str, n: int) -> None:
        if self.version is None:
            if letter != "v":
                raise SdpError("the first line must be v=", n)
            self.version = _int(value.strip(), "version", n, 0, 0)
            return
        if letter == "v":
            raise SdpError("repeated v= line", n)
        if self.sdp is None:
            if letter != "o":
                raise SdpError("o= must follow v=", n)
            self.sdp = SessionDescription(origin=Origin.parse(value, n), version=self.version)
            self.sdp.timings = []
            return
        if letter == "m":
            self.current = MediaDescription.parse_m_line(value, n)
            self.sdp.media.append(self.current)
        elif self.current is not None:
            self.media_line(self.current, letter, value, n)
        else:
            self.session_line(self.sdp, letter, value, n)

    def session_line(self, sdp: SessionDescription, letter: str, value: str, n: int) -> None:
        if letter == "o":
            raise SdpError("repeated o= line", n)
        if letter == "s":
            if self.name is not None:
                raise SdpError("repeated s= line", n)
            self.name = sdp.session_name = value
        elif letter in ("i", "u", "z", "k"):
            name = {"i": "info", "u": "uri", "z": "zone", "k": "key"}[letter]
            if getattr(sdp, name) is not None:
                raise SdpError(f"repeated {letter}= line", n)
            setattr(sdp, name, value)
        elif letter == "e":
            sdp.emails.append(value)
        elif letter == "p":
            sdp.phones.append(value)
        elif letter == "c":
            if sdp.connection is not None:
                raise SdpError("repeated session c= line", n)
            sdp.connection = Connection.parse(value, n)
        elif letter == "b":
            sdp.bandwidths.append(value)
        elif letter == "t":
            parts = value.split()
            if len(parts) != 2:
                raise SdpError("t= needs <start> <stop>", n)
            sdp.timings.append(Timing(_int(parts[0], "start time", n), _int(parts[1], "stop", n)))
        elif letter == "r":
            if not sdp.timings:
                raise SdpError("r= without t=", n)
            sdp.timings[-1].repeats.append(value)
        elif letter == "a":
            attr = Attribute.parse(value)
            _check_attribute(attr, n)
            sdp.attributes.append(attr)

    @staticmethod
    def media_line(m: MediaDescription, letter: str, value: str, n: int) -> None:
        if letter == "i":
            m.title = value
        elif letter == "c":
            if m.connection is not None:
                raise SdpError("repeated media c= line", n)
            m.connection = Connection.parse(value, n)
        elif letter == "b":
            m.bandwidths.append(value)
        elif letter == "k":
            m.key = value
        elif letter == "a":
            attr = Attribute.parse(value)
            if m.media == "audio":
                # Only audio attributes are read by negotiation; a stream we do not take
                # (video with `a=rtpmap:31 LPC`, RFC 4475 §3.1.1.1) is declined with port 0
                # in the answer (RFC 3264 §6), not a reason to refuse the whole offer.
                _check_attribute(attr, n)
            m.attributes.append(attr)
        elif letter in "vosuepztr":
            raise SdpError(f"{letter}= not allowed inside a media section", n)


# --- offer / answer for audio ----------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    """An audio codec we can run: its name, default payload type and clock rate."""

    name: str
    payload_type: int
    clock_rate: int = 8000


PCMU = Codec("PCMU", 0)
PCMA = Codec("PCMA", 8)
SUPPORTED_CODECS: tuple[Codec, ...] = (PCMU, PCMA)
TELEPHONE_EVENT = "telephone-event"
TELEPHONE_EVENTS = frozenset(range(17))  # RFC 4733 DTMF 0-9 * # A-D and flash
DEFAULT_TELEPHONE_EVENT_PT = 101
DEFAULT_PTIME = 20


@dataclass(frozen=True)
class MediaParams:
    """What the RTP session needs from a negotiation.

    `direction` is ours: whether we should send and/or receive. `on_hold` says the remote
    party put us on hold: it won't receive (it declared sendonly or inactive) or it gave the
    RFC 2543 address c=0.0.0.0.
    """

    remote_address: str
    remote_port: int
    rtcp_address: str
    rtcp_port: int
    payload_type: int
    codec: str
    clock_rate: int
    telephone_event_pt: int | None
    direction: Direction
    ptime: int
    on_hold: bool
    media_index: int = 0

    @property
    def remote_rtp(self) -> tuple[str, int]:
        return (self.remote_address, self.remote_port)

    @property
    def remote_rtcp(self) -> tuple[str, int]:
        return (self.rtcp_address, self.rtcp_port)


def _events(fmtp: str | None) -> set[int]:
    """The events of a telephone-event fmtp ("0-15,66"); RFC 4733 §2.4.1 default 0-15."""
    if fmtp is None or not fmtp.strip():
        return set(range(16))
    out: set[int] = set()
    for part in fmtp.replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        if not _DIGITS_RE.match(lo) or (hi and not _DIGITS_RE.match(hi)):
            continue  # an unreadable range only narrows what we'd send
        first, last = int(lo), int(hi) if hi else int(lo)
        out.update(range(first, min(last, 255) + 1))
    return out


def _format_events(events: set[int]) -> str:
    ranges: list[str] = []
    for e in sorted(events):
        if ranges and ranges[-1].rpartition("-")[2] == str(e - 1):
            ranges[-1] = f"{ranges[-1].partition('-')[0]}-{e}"
        else:
            ranges.append(str(e))
    return ",".join(ranges)


def _is_audio_rtp(m: MediaDescription) -> bool:
    return m.media == "audio" and m.proto.upper() == "RTP/AVP" and m.port != 0


def _pick(m: MediaDescription, codecs: tuple[Codec, ...]) -> tuple[int, str, int] | None:
    """The first format of `m` (its order is the peer's preference) that we support."""
    names = {c.name.upper() for c in codecs}
    for pt, rtpmap in m.rtpmaps.items():
        if (
            rtpmap.encoding.upper() in names
            and rtpmap.clock_rate == 8000
            and rtpmap.channels in (None, 1)
        ):
            return pt, rtpmap.encoding.upper(), rtpmap.clock_rate
    return None


def _telephone_event(m: MediaDescription) -> int | None:
    for pt, rtpmap in m.rtpmaps.items():
        if rtpmap.encoding.lower() == TELEPHONE_EVENT and rtpmap.clock_rate == 8000:
            return pt
    return None


def _remote_params(
    sdp: SessionDescription,
    index: int,
    chosen: tuple[int, str, int],
    ours: Direction,
) -> MediaParams:
    m = sdp.media[index]
    conn = m.connection or sdp.connection
    if conn is None:
        raise SdpError(f"m= line {index + 1} has no connection address")
    theirs = m.direction or sdp.direction or Direction.SENDRECV
    old_hold = conn.host == HOLD_ADDRESS
    direction = Direction.of(
        ours.sends and theirs.receives and not old_hold, ours.receives and theirs.sends
    )
    rtcp = m.rtcp
    rtcp_port, rtcp_conn = rtcp if rtcp is not None else (m.port + 1, None)
    return MediaParams(
        remote_address=conn.host,
        remote_port=m.port,
        rtcp_address=(rtcp_conn or conn).host,
        rtcp_port=rtcp_port,
        payload_type=chosen[0],
        codec=chosen[1],
        clock_rate=chosen[2],
        telephone_event_pt=_telephone_event(m),
        direction=direction,
        ptime=m.ptime or DEFAULT_PTIME,
        on_hold=old_hold or not theirs.receives,
        media_index=index,
    )


def _audio_section(
    port: int,
    codec: tuple[int, str, int],
    te_pt: int | None,
    events: set[int],
    direction: Direction,
    ptime: int,
) -> MediaDescription:
    formats = [str(codec[0])] + ([str(te_pt)] if te_pt is not None else [])
    m = MediaDescription("audio", port, "RTP/AVP", formats)
    m.attributes.append(Attribute("rtpmap", f"{codec[0]} {codec[1]}/{codec[2]}"))
    if te_pt is not None:
        m.attributes.append(Attribute("rtpmap", f"{te_pt} {TELEPHONE_EVENT}/8000"))
        m.attributes.append(Attribute("fmtp", f"{te_pt} {_format_events(events)}"))
    m.attributes.append(Attribute("ptime", str(ptime)))
    m.attributes.append(Attribute(direction.value))
    return m


def build_offer(
    address: str,
    port: int,
    *,
    session_id: int,
    version: int = 0,
    codecs: tuple[Codec, ...] = SUPPORTED_CODECS,
    telephone_event_pt: int | None = DEFAULT_TELEPHONE_EVENT_PT,
    direction: Direction = Direction.SENDRECV,
    ptime: int = DEFAULT_PTIME,
) -> SessionDescription:
    """An offer for one audio stream on `address:port`, codecs in preference order."""
    addrtype = "IP6" if ":" in address else "IP4"
    formats = [str(c.payload_type) for c in codecs]
    if telephone_event_pt is not None:
        formats.append(str(telephone_event_pt))
    m = MediaDescription("audio", port, "RTP/AVP", formats)
    for c in codecs:
        m.attributes.append(Attribute("rtpmap", f"{c.payload_type} {c.name}/{c.clock_rate}"))
    if telephone_event_pt is not None:
        m.attributes.append(Attribute("rtpmap", f"{telephone_event_pt} {TELEPHONE_EVENT}/8000"))
        m.attributes.append(Attribute("fmtp", f"{telephone_event_pt} 0-16"))
    m.attributes.append(Attribute("ptime", str(ptime)))
    m.attributes.append(Attribute(direction.value))
    return SessionDescription(
        origin=Origin(address, "centralita", session_id, version, addrtype=addrtype),
        session_name="centralita",
        connection=Connection(address, addrtype=addrtype),
        media=[m],
    )


def answer_offer(
    offer: SessionDescription,
    address: str,
    port: int,
    *,
    session_id: int,
    version: int = 0,
    codecs: tuple[Codec, ...] = SUPPORTED_CODECS,
    direction: Direction = Direction.SENDRECV,
    ptime: int = DEFAULT_PTIME,
) -> tuple[SessionDescription, MediaParams]:
    """Answer `offer` (RFC 3264 §6): accept its first audio stream we can run, reject the rest.

    The answer keeps the offer's payload type numbers and m-line order; rejected streams get
    port 0. `direction` is what we'd like (e.g. SENDONLY when we hold). Raises
    `NoCommonCodec` when no audio stream fits, `SdpError` when the offer lacks an address.
    """
    addrtype = "IP6" if ":" in address else "IP4"
    answer = SessionDescription(
        origin=Origin(address, "centralita", session_id, version, addrtype=addrtype),
        session_name="centralita",
        connection=Connection(address, addrtype=addrtype),
    )
    params: MediaParams | None = None
    for index, m in enumerate(offer.media):
        chosen = _pick(m, codecs) if _is_audio_rtp(m) and params is None else None
        if chosen is None:
            answer.media.append(MediaDescription(m.media, 0, m.proto, m.formats[:1] or ["0"]))
            continue
        params = _remote_params(offer, index, chosen, direction)
        te_pt = params.telephone_event_pt
        events = _events(m.fmtp(te_pt)) & TELEPHONE_EVENTS if te_pt is not None else set()
        if te_pt is not None and not events:
            te_pt = None
            params = dataclasses.replace(params, telephone_event_pt=None)
        section = _audio_section(port, chosen, te_pt, events, params.direction, ptime)
        answer.media.append(section)
    if params is None:
        raise NoCommonCodec("no audio stream with PCMU or PCMA over RTP/AVP")
    return answer, params


def accept_answer(offer: SessionDescription, answer: SessionDescription) -> MediaParams:
    """Read the answer to our `offer` (RFC 3264 §7) into `MediaParams`.

    Raises `SdpError` when the answer doesn't match the offer's m-lines, `NoCommonCodec`
    when it accepted no audio stream with a codec we offered.
    """
    if len(answer.media) != len(offer.media):
        raise SdpError("answer has a different number of m= lines than the offer")
    for index, (ours, theirs) in enumerate(zip(offer.media, answer.media, strict=True)):
        if not _is_audio_rtp(theirs) or not _is_audio_rtp(ours):
            continue
        offered = tuple(
            Codec(r.encoding.upper(), pt, r.clock_rate) for pt, r in ours.rtpmaps.items()
        )
        chosen = _pick(theirs, tuple(c for c in offered if c.name in {"PCMU", "PCMA"}))
        if chosen is None:
            continue
        wanted = ours.direction or offer.direction or Direction.SENDRECV
        return _remote_params(answer, index, chosen, wanted)
    raise NoCommonCodec("the answer accepted no audio stream we offered")


def with_direction(sdp: SessionDescription, direction: Direction) -> SessionDescription:
    """A copy of our own `sdp` for a re-offer: direction set on every audio stream, the
    origin's version bumped (RFC 3264 §8). SENDONLY puts the peer on hold, SENDRECV resumes.
    """
    out = copy.deepcopy(sdp)
    out.origin.version += 1
    for m in out.media:
        if m.media == "audio" and m.port != 0:
            m.set_direction(direction)
    return out
