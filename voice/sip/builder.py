"""Small builders shared by the transaction, dialog and UA layers.

Identifiers (branch, tag, Call-ID) come from a per-process random prefix plus a counter: unique
enough for RFC 3261 §8.1.1 and far cheaper than asking the OS for entropy on every message.
`salvage_response()` answers a message the strict parser refused, when enough of it is
readable to address a 400 back (RFC 3261 §8.2: a UAS answers bad requests, never responses).
"""

from __future__ import annotations

import itertools
import os
import re

from voice.sip.message import Headers, SipRequest, SipResponse, canonical_name

MAGIC_COOKIE = "z9hG4bK"

_PREFIX = os.urandom(5).hex()
_counter = itertools.count(1)

REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    603: "Decline",
}

# Headers a response copies from its request (RFC 3261 §8.2.6.2).
_COPIED = ("Via", "From", "To", "Call-ID", "CSeq")


def new_branch() -> str:
    """A fresh RFC 3261 branch (magic cookie + unique suffix)."""
    return f"{MAGIC_COOKIE}{_PREFIX}{next(_counter):x}"


def new_tag() -> str:
    """A fresh From/To tag."""
    return f"{_PREFIX}{next(_counter):x}"


def new_call_id(host: str) -> str:
    """A fresh Call-ID scoped by host."""
    return f"{_PREFIX}{next(_counter):x}@{host}"


def reason_for(status: int) -> str:
    """The standard reason phrase for `status` (a generic one if unknown)."""
    return REASONS.get(status) or REASONS.get(status // 100 * 100, "Unknown")


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    body: bytes = b"",
) -> SipResponse:
    """A response to `request` with Via/From/To/Call-ID/CSeq copied and the To tag added.

    The tag is only added when the To header has none (a retransmission or an in-dialog
    request already carries it).
    """
    resp = SipResponse(status=status, reason=reason if reason is not None else reason_for(status))
    copy = request.response_copy
    if copy is None:
        # Taken once per request: an INVITE gets 100, 180 and 200 (and retransmissions), and
        # walking every header line for each was a measured cost. A request is not edited
        # once received, so the lines cannot go stale.
        copy = request.response_copy = (
            [(n, v) for n, v in request.headers if n in _COPIED], request.to_tag is not None
        )
    lines, has_to_tag = copy
    if to_tag and status != 100 and not has_to_tag:
        lines = [(n, f"{v};tag={to_tag}" if n == "To" else v) for n, v in lines]
    resp.headers = Headers.from_lines(lines)
    if status == 100 and "Timestamp" in request.headers:
        resp.headers.add("Timestamp", request.headers.get("Timestamp") or "")
    resp.body = body
    return resp


_LINE_SPLIT = re.compile(rb"\r?\n")
# Loose on purpose: a request line with extra spaces or another SIP version is refused by the
# parser but can still be answered (RFC 4475 §3.1.2.8-10, §3.1.2.16): "METHOD  uri  SIP/x.y".
_METHOD = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_VERSION = re.compile(r"SIP/\d+\.\d+")
_NO_RESPONSE = frozenset({"ACK"})


def _request_method(start: str) -> str | None:
    """The method of a loose request line (`_METHOD`, spaces, a URI that starts with a
    non-space, spaces, `SIP/x.y`), None when `start` is not one. Split, not one regex: the
    regex's ".* +SIP" backtracked quadratically over a run of spaces (16 KB of them in one
    UDP datagram held the event loop 250 ms)."""
    method, sep, rest = start.partition(" ")
    if not sep or _METHOD.fullmatch(method) is None:
        return None
    uri, sep, version = rest.lstrip(" ").rpartition(" ")
    uri = uri.rstrip(" ")
    if not sep or not uri or uri[0].isspace() or _VERSION.fullmatch(version) is None:
        return None
    return method


def salvage_response(data: bytes, reason: str, status: int = 400) -> bytes | None:
    """A 400 for a request the parser rejected, or None when it can't be addressed.

    Needs a request start line (not ACK) and a Via; the other headers a response copies are
    copied when present, so even a request missing its Call-ID learns why it was refused.
    Anything else is dropped by the caller and counted.
    """
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines = _LINE_SPLIT.split(head.lstrip(b"\r\n"))
    if not lines:
        return None
    method = _request_method(lines[0].decode("utf-8", "replace").strip())
    if method is None or method.upper() in _NO_RESPONSE:
        return None
    found: dict[str, list[str]] = {}
    for raw in lines[1:]:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or "\x00" in line:
            continue
        cname = canonical_name(name)
        if cname in _COPIED:
            found.setdefault(cname, []).append(value.strip())
    if "Via" not in found or not found["Via"][0]:
        return None
    # A reason phrase must be printable text on one line.
    safe_reason = "".join(ch for ch in reason if ch.isprintable())[:80] or "Bad Request"
    out = [f"SIP/2.0 {status} {safe_reason}"]
    for name in _COPIED:
        out.extend(f"{name}: {value}" for value in found.get(name, []))
    out.append("Content-Length: 0")
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8")
