"""SIP messages (RFC 3261 §7): parse from bytes, serialize with `bytes()`.

The parser is strict where a wrong guess would mis-route a call (start line, Via, CSeq,
Content-Length, the mandatory headers) and lenient where peers differ harmlessly (header name
case, compact forms, folded lines, spaces around colons). Every failure raises
`SipParseError` with a reason short enough to send back as the reason phrase of a 400.

Header values are kept as text; the structured views (`Via`, `NameAddress`, `SipUri`,
`CSeq`) live in `voice.sip.headers` and are parsed on demand.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from voice.sip.errors import SipParseError
from voice.sip.headers import split_unquoted

SIP_VERSION = "SIP/2.0"
MAX_MESSAGE_SIZE = 65_535
MAX_HEADERS = 128

COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

# Canonical spellings for names whose capitalisation is not plain Title-Case.
_SPECIAL_NAMES = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}

# Headers whose value may be a comma-separated list (RFC 3261 §7.3.1). Authorization-type
# headers are deliberately absent: their params contain commas.
_LIST_HEADERS = frozenset(
    {
        "via",
        "route",
        "record-route",
        "contact",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "allow-events",
        "content-encoding",
        "in-reply-to",
    }
)

_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
# The status code is exactly three digits followed by SP (RFC 3261 §25.1): "4294967301" is not
# a 429 (RFC 4475 §3.1.2.19).
_STATUS_RE = re.compile(r"^SIP/2\.0 ([1-6][0-9][0-9])(?: (.*))?$")
_REQUEST_RE = re.compile(r"^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP/2\.0$")
_VERSION_RE = re.compile(r"^\S+ \S+ SIP/(\d+\.\d+)$|^SIP/(\d+\.\d+) ")
# LWS is allowed around the slashes of a Via's sent-protocol (RFC 3261 §25.1 SLASH = SWS "/"
# SWS; RFC 4475 §3.1.1.1): "SIP  /   2.0 /UDP" is "SIP/2.0/UDP".
_VIA_PROTO_RE = re.compile(r"^\s*([^\s/]+)\s*/\s*([^\s/]+)\s*/\s*([^\s/;]+)")
# Headers that carry one value (RFC 3261 §20; RFC 4475 §3.3.8, §3.3.9).
_SINGLE_HEADERS = ("Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length",
                   "Content-Type")

MANDATORY_REQUEST_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")


@functools.lru_cache(maxsize=512)
def canonical_name(name: str) -> str:
    """The canonical spelling of a header name; compact forms are expanded.

    Cached: every header add/get goes through here, and the set of names seen is small
    (the bound keeps a peer inventing names from growing it)."""
    lower = name.strip().lower()
    if len(lower) == 1 and lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    special = _SPECIAL_NAMES.get(lower)
    if special is not None:
        return special
    return "-".join(part.capitalize() for part in lower.split("-"))


def split_list(value: str) -> list[str]:
    """Split a header value on commas that are outside quotes and angle brackets."""
    if "," not in value:
        # Nothing to split (the usual case: one Via, one Contact); same result as the scan.
        value = value.strip()
        return [value] if value else []
    items: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    start = 0
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            items.append(value[start:i].strip())
            start = i + 1
    items.append(value[start:].strip())
    return [item for item in items if item]


class Headers:
    """Ordered, case-insensitive SIP headers; names are stored in canonical form.

    A header that appears on several lines keeps every line, in order. `get_all()` also splits
    comma-separated values of list headers (Via, Route, Contact...), so
    `Via: a, b` and two `Via:` lines read the same.

    Lines are kept in order for serialisation and indexed by canonical name (name -> values in
    order) so `get`/`in` are one dict lookup: a message is queried a dozen times on its way
    through the stack, and scanning the line list each time was a measured cost.
    """

    __slots__ = ("_items", "_index")

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        self._index: dict[str, list[str]] = {}
        for name, value in items or []:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a header line (after any existing ones of the same name)."""
        cname = canonical_name(name)
        value = value.strip()
        self._items.append((cname, value))
        values = self._index.get(cname)
        if values is None:
            self._index[cname] = [value]
        else:
            values.append(value)

    def _reindex(self) -> None:
        index: dict[str, list[str]] = {}
        for n, v in self._items:
            values = index.get(n)
            if values is None:
                index[n] = [v]
            else:
                values.append(v)
        self._index = index

    def prepend(self, name: str, value: str) -> None:
        """Insert a header line before the first line of the same name (e.g. a new top Via)."""
        cname = canonical_name(name)
        value = value.strip()
        for i, (n, _) in enumerate(self._items):
            if n == cname:
                self._items.insert(i, (cname, value))
                break
        else:
            self._items.insert(0, (cname, value))
        self._index.setdefault(cname, []).insert(0, value)

    def set(self, name: str, value: str) -> None:
        """Replace every line of `name` with a single one, keeping the first's position."""
        cname = canonical_name(name)
        value = value.strip()
        if cname not in self._index:
            self._items.append((cname, value))
            self._index[cname] = [value]
            return
        for i, (n, _) in enumerate(self._items):
            if n == cname:
                self._items[i] = (cname, value)
                self._items = [
                    item for j, item in enumerate(self._items) if j <= i or item[0] != cname
                ]
                break
        self._index[cname] = [value]

    def remove(self, name: str) -> None:
        cname = canonical_name(name)
        if self._index.pop(cname, None) is not None:
            self._items = [item for item in self._items if item[0] != cname]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first line's value (the whole line, not split on commas)."""
        values = self._index.get(canonical_name(name))
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of `name`, list headers split on top-level commas."""
        cname = canonical_name(name)
        values = self._index.get(cname)
        if not values:
            return []
        if cname.lower() in _LIST_HEADERS:
            return [item for v in values for item in split_list(v)]
        return list(values)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return canonical_name(name) in self._index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    @classmethod
    def from_lines(cls, items: list[tuple[str, str]]) -> Headers:
        """Headers from lines taken out of another `Headers` (names canonical, values stripped):
        skips re-canonicalising and re-stripping each one."""
        h = cls()
        h._items = list(items)
        index = h._index
        for n, v in items:
            values = index.get(n)
            if values is None:
                index[n] = [v]
            else:
                values.append(v)
        return h

    def copy(self) -> Headers:
        h = Headers()
        h._items = list(self._items)
        h._index = {n: list(vs) for n, vs in self._index.items()}
        return h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    # -- convenience views over mandatory headers --------------------------------------------
    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method) from CSeq."""
        return parse_cseq(self.headers.get("CSeq") or "")

    @property
    def top_via(self) -> str:
        vias = self.headers.get_all("Via")
        if not vias:
            raise SipParseError("missing Via")
        return vias[0]

    @property
    def from_tag(self) -> str | None:
        return header_param(self.headers.get("From") or "", "tag")

    @property
    def to_tag(self) -> str | None:
        return header_param(self.headers.get("To") or "", "tag")

    def _head_bytes(self, start_line: str) -> bytes:
        lines = [start_line]
        for name, value in self.headers:
            if name == "Content-Length":
                continue
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


@dataclass
class SipRequest(_Message):
    """A SIP request. `uri` is the Request-URI as text."""

    method: str = ""
    uri: str = ""
    # The header lines every response copies, and whether To had a tag, taken once: a call's
    # INVITE is answered 100, 180 and 200 (see voice.sip.builder.make_response).
    response_copy: tuple[list[tuple[str, str]], bool] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __bytes__(self) -> bytes:
        return self._head_bytes(f"{self.method} {self.uri} {SIP_VERSION}") + self.body

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri} call-id={self.call_id!r}>"


@dataclass
class SipResponse(_Message):
    """A SIP response."""

    status: int = 0
    reason: str = ""

    def __bytes__(self) -> bytes:
        return self._head_bytes(f"{SIP_VERSION} {self.status} {self.reason}") + self.body

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason} call-id={self.call_id!r}>"


SipMessage = SipRequest | SipResponse


# --- small header helpers used everywhere ---------------------------------------------------


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not _TOKEN_RE.match(parts[1]):
        raise SipParseError("bad CSeq")
    number = int(parts[0])
    if number >= 2**31:
        raise SipParseError("CSeq number out of range")
    return number, parts[1].upper()


def header_param(value: str, name: str) -> str | None:
    """A `;name=value` parameter of a From/To/Contact-style value (outside `<...>` and quotes)."""
    parts = split_unquoted(value, "<")
    if len(parts) > 1:
        # name-addr form: parameters follow the closing '>' of the URI.
        tail = "<".join(parts[1:])
        gt = tail.find(">")
        tail = tail[gt + 1 :] if gt >= 0 else ""
        params = split_unquoted(tail, ";")[1:]
    else:
        # addr-spec form: parameters after the URI belong to the header.
        params = split_unquoted(value, ";")[1:]
    for part in params:
        key, _, val = part.partition("=")
        if key.strip().lower() == name.lower():
            return val.strip().strip('"')
    return None


# --- parsing ---------------------------------------------------------------------------------


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    idx = data.find(b"\r\n\r\n")
    if idx >= 0:
        return data[:idx], data[idx + 4 :]
    idx = data.find(b"\n\n")  # tolerate bare LF peers
    if idx >= 0:
        return data[:idx], data[idx + 2 :]
    raise SipParseError("no end of headers")


def _unfold(head: str) -> list[str]:
    lines = [raw[:-1] if raw.endswith("\r") else raw for raw in head.split("\n")]
    if "\n " not in head and "\n\t" not in head:
        return lines  # no folded line (the usual case): skip the join pass
    out: list[str] = []
    for raw in lines:
        if raw[:1] in (" ", "\t") and out:
            out[-1] = out[-1].rstrip() + " " + raw.strip()
        else:
            out.append(raw)
    return out


@functools.lru_cache(maxsize=512)
def _header_name(raw: str) -> str | None:
    """The canonical name of a header line's name part, or None if it is not a token.

    Cached like `canonical_name`: a peer sends the same few names on every message."""
    name = raw.strip()
    if not name or not _TOKEN_RE.match(name):
        return None
    return canonical_name(name)


def parse_message(data: bytes, *, stream: bool = False) -> SipMessage:
    """Parse one SIP message.

    For a datagram (`stream=False`) a missing Content-Length means "the rest of the datagram";
    a Content-Length larger than what arrived is an error, extra bytes are dropped
    (RFC 3261 §18.3). For a stream the caller has already framed the message.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError("message too large")
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("empty message")
    head_b, body = _split_head(data)
    try:
        head = head_b.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not UTF-8") from exc
    if "\x00" in head and not _nul_only_quoted(head):
        # A NUL is legal only as a quoted-pair inside a quoted string (RFC 4475 §3.1.1.2).
        raise SipParseError("NUL in headers")
    lines = _unfold(head)
    start = lines[0].lstrip()
    headers = Headers()
    if len(lines) - 1 > MAX_HEADERS:
        raise SipParseError("too many headers")
    for line in lines[1:]:
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        cname = _header_name(name) if sep else None
        if cname is None:
            raise SipParseError("malformed header line")
        headers.add(cname, value)

    msg: SipMessage
    m = _STATUS_RE.match(start)
    if m:
        # "SIP/2.0 200" without the SP before an empty reason phrase is read as an empty
        # reason (found by tests/fuzz: it raised AttributeError).
        reason = (m.group(2) or "").strip()
        msg = SipResponse(headers=headers, status=int(m.group(1)), reason=reason)
    else:
        m = _REQUEST_RE.match(start)
        if not m:
            version = _VERSION_RE.match(start)
            if version is not None and (version.group(1) or version.group(2)) != "2.0":
                raise SipParseError("unsupported SIP version", status=505)
            if start.upper().startswith("SIP/"):
                raise SipParseError("malformed status line")
            raise SipParseError("malformed start line")
        method, uri = m.group(1), m.group(2)
        if ":" not in uri or uri.startswith("<"):
            raise SipParseError("malformed Request-URI")
        if "?" in uri.rpartition("@")[2] and uri.lower().startswith(("sip:", "sips:")):
            # URI headers are for a URI that makes a request, never in one (RFC 3261 §19.1.5).
            raise SipParseError("headers in Request-URI")
        msg = SipRequest(headers=headers, method=method.upper(), uri=uri)

    for name in _SINGLE_HEADERS:
        values = headers._index.get(name)
        if values is not None and len(values) > 1:
            raise SipParseError(f"more than one {name}")
    length_text = headers.get("Content-Length")
    if length_text is not None:
        if not length_text.isdigit():
            raise SipParseError("bad Content-Length")
        length = int(length_text)
        if length > len(body):
            raise SipParseError("Content-Length exceeds body")
        body = body[:length]
    elif stream:
        raise SipParseError("missing Content-Length on a stream transport")
    msg.body = bytes(body)
    _validate(msg)
    return msg


def _validate(msg: SipMessage) -> None:
    h = msg.headers
    for name in MANDATORY_REQUEST_HEADERS:
        if name not in h:
            raise SipParseError(f"missing {name}")
    if not h.get("Call-ID"):
        raise SipParseError("empty Call-ID")
    _, method = parse_cseq(h.get("CSeq") or "")
    if isinstance(msg, SipRequest):
        if method != msg.method and not (msg.method == "ACK" and method == "ACK"):
            raise SipParseError("CSeq method does not match request")
        mf = h.get("Max-Forwards")
        if mf is not None and (not mf.isdigit() or int(mf) > 255):
            raise SipParseError("bad Max-Forwards")
    vias = h.get_all("Via")
    if not vias:
        raise SipParseError("bad Via")
    normal = []
    for via in vias:
        m = _VIA_PROTO_RE.match(via)
        if m is None or m.group(1).upper() != "SIP" or m.group(2) != "2.0":
            raise SipParseError("bad Via")
        rest = via[m.end():].strip()
        if not rest or rest.startswith(";") or ";;" in rest.replace(" ", "") or rest.endswith(";"):
            raise SipParseError("bad Via parameters")
        normal.append(f"SIP/2.0/{m.group(3).upper()} {rest}")
    if normal != vias:
        h.set("Via", ", ".join(normal))
    for name in ("From", "To"):
        _check_address(h.get(name) or "", name)


# A head whose every NUL is a quoted-pair inside a quoted string: runs outside quotes, and
# quoted strings of plain runs and quoted-pairs that end at a quote, a line's end or the end.
# Possessive (no backtracking): linear in the head, which a hostile peer makes 64 KiB long.
_NUL_ONLY_QUOTED_RE = re.compile(
    r'(?:[^"\x00]*+"(?:[^"\\\n\x00]++|\\[\s\S])*+(?:["\n]|\\?\Z))*+[^"\x00]*+'
)


def _nul_only_quoted(head: str) -> bool:
    """Whether every NUL in `head` is a quoted-pair inside a quoted string (a regex: a walk
    one character at a time took 4 ms for a 60 KB head, and most of a fuzzer's time)."""
    return _NUL_ONLY_QUOTED_RE.fullmatch(head) is not None


# An unquoted display name is tokens: refuse the separators that make it ambiguous
# ("Bell, Alexander <sip:...>"), but not non-ASCII letters, which phones send unquoted.
_DISPLAY_TOKEN_RE = re.compile(r'^[^,;:@\\<>()?\[\]{}=/"]*$')


def _check_address(value: str, name: str) -> None:
    """From/To: quotes balanced; an unquoted display name is tokens (RFC 4475 §3.1.2.6, 15)."""
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
    if quoted:
        raise SipParseError(f"unterminated quoted string in {name}")
    lt = value.find("<")
    if lt > 0 and '"' not in value[:lt] and not _DISPLAY_TOKEN_RE.match(value[:lt]):
        raise SipParseError(f"bad display name in {name}")


class StreamFramer:
    """Cut a TCP/TLS byte stream into SIP messages by Content-Length (RFC 3261 §18.3).

    `feed()` returns the complete messages' bytes; keep-alive CRLFs between messages are
    skipped. Raises `SipParseError` when the stream can't be framed any more (the transport
    should then close the connection).
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max = max_size

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            while self._buf[:2] == b"\r\n":
                del self._buf[:2]
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > self._max:
                    raise SipParseError("headers too large")
                return out
            head = bytes(self._buf[:end])
            m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", head)
            if m is None:
                raise SipParseError("missing Content-Length on a stream transport")
            total = end + 4 + int(m.group(1))
            if total > self._max:
                raise SipParseError("message too large")
            if len(self._buf) < total:
                return out
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]
