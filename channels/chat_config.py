"""The `chat:` section of the config file (the web chat widget).

    chat:
      allowed_origins: ["https://www.example.com"]   # pages that may embed the widget
      site_secret_files: [/etc/centralita/chat-site.key]  # HMAC secrets for user_hash
      # rate: {lines: 5, per_seconds: 10}            # per visitor (token bucket)
      # max_line_chars: 4000
      # call_to: "chat"        # offer "call us": the browser's call runs the IVR flow
      #                        # bound to this number (the default flow if none is)
      # call_max_live: 20      # browser calls at once on this server (each costs CPU)

The server's own origin may always open the socket (a page it serves). A socket whose
Origin is neither is refused with 403 before the upgrade; a client that sends no Origin is
not a browser, and gets no more than its token allows. A secret file holds the secret as
text (its first line, at least 32 characters), as the site's server uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from channels.chat_protocol import MAX_LINE_CHARS

MIN_SECRET_CHARS = 32
_KEYS = {"allowed_origins", "site_secret_files", "rate", "max_line_chars", "call_to",
         "call_max_live"}


class ChatConfigError(Exception):
    """The `chat:` section is wrong; the message names the key."""


@dataclass(frozen=True)
class ChatSettings:
    """A checked `chat:` section: origins normalised (`scheme://host[:port]`), secrets read."""

    allowed_origins: tuple[str, ...] = ()
    site_secrets: tuple[bytes, ...] = ()
    rate_lines: int = 5
    rate_seconds: float = 10.0
    max_line_chars: int = MAX_LINE_CHARS
    call_to: str | None = None  # None: the widget offers no calls
    call_max_live: int = 20


def normalize_origin(text: str) -> str | None:
    """`scheme://host[:port]` in lower case with a default port left out, None if `text` is
    not an http(s) origin."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def parse_chat_settings(value: Any, where: str) -> ChatSettings:
    """The `chat:` mapping as `ChatSettings`; `ChatConfigError` naming the key otherwise."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ChatConfigError(f"{where} must be a mapping")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise ChatConfigError(f"{where}: unknown key {unknown[0]!r}")
    origins_raw = value.get("allowed_origins", [])
    if not isinstance(origins_raw, list):
        raise ChatConfigError(f"{where}.allowed_origins must be a list of origins")
    origins = []
    for i, raw in enumerate(origins_raw):
        origin = normalize_origin(raw) if isinstance(raw, str) else None
        if origin is None:
            raise ChatConfigError(
                f"{where}.allowed_origins[{i}] must be an origin like https://www.example.com")
        origins.append(origin)
    files = value.get("site_secret_files", [])
    if not isinstance(files, list):
        raise ChatConfigError(f"{where}.site_secret_files must be a list of paths")
    secrets = tuple(_secret(f, f"{where}.site_secret_files[{i}]") for i, f in enumerate(files))
    rate = value.get("rate", {"lines": 5, "per_seconds": 10})
    if not isinstance(rate, dict) or set(rate) - {"lines", "per_seconds"}:
        raise ChatConfigError(f"{where}.rate must be {{lines: N, per_seconds: S}}")
    lines, seconds = rate.get("lines", 5), rate.get("per_seconds", 10)
    if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= 1000:
        raise ChatConfigError(f"{where}.rate.lines must be a whole number from 1 to 1000")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 3600:
        raise ChatConfigError(f"{where}.rate.per_seconds must be more than 0 and at most 3600")
    max_chars = value.get("max_line_chars", MAX_LINE_CHARS)
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) \
            or not 1 <= max_chars <= MAX_LINE_CHARS:
        raise ChatConfigError(f"{where}.max_line_chars must be from 1 to {MAX_LINE_CHARS}")
    call_to = value.get("call_to")
    if call_to is not None and (not isinstance(call_to, str) or not call_to.strip()
                                or len(call_to) > 64 or not call_to.isprintable()):
        raise ChatConfigError(f"{where}.call_to must be the number (text) whose flow serves "
                              "chat calls")
    max_live = value.get("call_max_live", 20)
    if isinstance(max_live, bool) or not isinstance(max_live, int) or not 1 <= max_live <= 1000:
        raise ChatConfigError(f"{where}.call_max_live must be a whole number from 1 to 1000")
    return ChatSettings(tuple(origins), secrets, lines, float(seconds), max_chars,
                        call_to.strip() if call_to is not None else None, max_live)


def _secret(path: Any, where: str) -> bytes:
    if not isinstance(path, str):
        raise ChatConfigError(f"{where} must be a path")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChatConfigError(f"{where}: cannot read {path}: {exc}") from exc
    secret = text.splitlines()[0].strip() if text else ""
    if len(secret) < MIN_SECRET_CHARS:
        raise ChatConfigError(f"{where}: the secret must have at least {MIN_SECRET_CHARS} characters")
    return secret.encode("utf-8")
