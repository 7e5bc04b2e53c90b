"""Structured views of the SIP header values the stack reasons about.

`SipUri` (RFC 3261 §19.1), `NameAddress` (From/To/Contact/Route: `"Name" <uri>;params`) and
`Via` (§20.42). Each has `parse()` raising `SipParseError` and `__str__` giving the wire form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from voice.sip.errors import SipParseError

_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::(\d{1,5}))?$")


def _unquoted(text: str) -> Iterator[tuple[int, str]]:
    """(index, char) of every character outside double quotes (escapes honoured)."""
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted:
            yield i, ch


def split_unquoted(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes (a quoted `;` or `<` is data, not syntax)."""
    if '"' not in text:
        # Escapes only count inside quotes: without a quote this is a plain split, and most
        # values (every tag, Via and URI SIPp sends) have none. The scanner is ~10x slower.
        return text.split(sep)
    cuts = [i for i, ch in _unquoted(text) if ch == sep]
    bounds = zip([-1, *cuts], [*cuts, len(text)], strict=True)
    return [text[a + 1 : b] for a, b in bounds]


def _find_unquoted(text: str, ch: str) -> int:
    if '"' not in text:
        return text.find(ch)  # no quotes, nothing to skip (see split_unquoted)
    return next((i for i, c in _unquoted(text) if c == ch), -1)


def _parse_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for part in split_unquoted(text, ";"):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition("=")
        params[key.strip().lower()] = val.strip() if sep else None
    return params


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _split_hostport(text: str) -> tuple[str, int | None]:
    m = _HOST_RE.match(text)
    if not m:
        raise SipParseError("bad host")
    port = int(m.group(2)) if m.group(2) else None
    if port is not None and not 0 < port < 65536:
        raise SipParseError("bad port")
    return m.group(1), port


@dataclass
class SipUri:
    """`sip:` / `sips:` URI; `tel:` URIs keep their number in `user` and an empty host."""

    scheme: str = "sip"
    user: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str = ""
    password: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        scheme, sep, rest = text.partition(":")
        scheme = scheme.lower()
        if not sep or scheme not in ("sip", "sips", "tel"):
            raise SipParseError("unsupported URI scheme")
        if scheme == "tel":
            number, _, ptext = rest.partition(";")
            if not number:
                raise SipParseError("empty tel URI")
            return cls(scheme="tel", user=number, params=_parse_params(ptext))
        rest, _, headers = rest.partition("?")
        user: str | None = None
        password: str | None = None
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            user, _, pw = userinfo.partition(":")
            password = pw or None
            if not user:
                raise SipParseError("empty user in URI")
        hostport, _, ptext = rest.partition(";")
        host, port = _split_hostport(hostport)
        return cls(scheme, user, host, port, _parse_params(ptext), headers, password)

    @property
    def transport(self) -> str:
        t = self.params.get("transport")
        if t:
            return t.lower()
        return "tls" if self.scheme == "sips" else "udp"

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user}{_format_params(self.params)}"
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        hdrs = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{_format_params(self.params)}{hdrs}"


@dataclass
class NameAddress:
    """`"Display" <uri>;params` as in From, To, Contact, Route and Record-Route."""

    uri: str
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddress:
        text = text.strip()
        if not text:
            raise SipParseError("empty address")
        if text == "*":
            return cls(uri="*")
        lt = _find_unquoted(text, "<")
        if lt >= 0:
            gt = text.find(">", lt)
            if gt < 0:
                raise SipParseError("unclosed '<' in address")
            display = text[:lt].strip().strip('"') or None
            uri = text[lt + 1 : gt].strip()
            params = _parse_params(text[gt + 1 :])
        else:
            uri, _, ptext = text.partition(";")
            display = None
            params = _parse_params(ptext)
        if ":" not in uri:
            raise SipParseError("bad URI in address")
        return cls(uri=uri.strip(), display=display, params=params)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def sip_uri(self) -> SipUri:
        return SipUri.parse(self.uri)

    def __str__(self) -> str:
        if self.uri == "*":
            return "*"
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{_format_params(self.params)}"


@dataclass
class Via:
    """One Via hop: `SIP/2.0/UDP host:port;branch=z9hG4bK...;rport;received=...`."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        text = text.strip()
        proto, _, rest = text.partition(" ")
        parts = proto.split("/")
        if len(parts) != 3 or parts[0].upper() != "SIP" or parts[1] != "2.0":
            raise SipParseError("bad Via protocol")
        transport = parts[2].strip().upper()
        if not transport:
            raise SipParseError("bad Via transport")
        hostport, _, ptext = rest.strip().partition(";")
        host, port = _split_hostport(hostport.strip())
        return cls(transport, host, port, _parse_params(ptext))

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{_format_params(self.params)}"
