"""The `twilio:` section of the config file (SMS and WhatsApp through Twilio).

    twilio:
      account_sid: AC0123456789abcdef0123456789abcdef
      auth_token_file: /etc/centralita/twilio-token   # or auth_token: ... (a file is better)
      public_url: https://contact.example.com          # what Twilio calls: see below
      sms_number: "+34910000000"                       # and/or messaging_service_sid: MG...
      whatsapp_number: "+14155238886"
      # api_base_url: https://api.twilio.com           # tests point the client elsewhere
      # max_media_bytes: 5242880                       # per MMS / WhatsApp media file
      # send_timeout: 10                               # seconds per REST call
      # help_text: "Acme support: call 910 000 000."   # our answer to HELP / INFO

`public_url` is the address Twilio reaches this server at, e.g. the proxy in front of it:
webhooks are signed over the URL Twilio requested, so the signature is checked against
`public_url` + the route's path (`/twilio/messaging`), never against the Host header a
proxy rewrote. It is also where status callbacks are requested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_KEYS = {
    "account_sid", "auth_token", "auth_token_file", "public_url", "sms_number",
    "messaging_service_sid", "whatsapp_number", "api_base_url", "max_media_bytes",
    "send_timeout", "help_text",
}

#: Twilio's own limit for one MMS media file.
DEFAULT_MAX_MEDIA_BYTES = 5 * 1024 * 1024
DEFAULT_API_BASE_URL = "https://api.twilio.com"


class TwilioConfigError(ValueError):
    """The `twilio:` section is wrong; the message says which key and why."""


@dataclass(frozen=True)
class TwilioConfig:
    """A checked `twilio:` section. `auth_token` is the secret itself (from the file)."""

    account_sid: str
    auth_token: str
    public_url: str
    sms_number: str | None = None
    messaging_service_sid: str | None = None
    whatsapp_number: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES
    send_timeout: float = 10.0
    #: Answered (TwiML) to a HELP or INFO message; None leaves HELP to Twilio's own reply.
    help_text: str | None = None

    def __repr__(self) -> str:  # never print the token
        return f"TwilioConfig(account_sid={self.account_sid!r}, public_url={self.public_url!r})"

    def url(self, path: str) -> str:
        """The public URL of one of our routes (`path` starts with /)."""
        return self.public_url + path

    @property
    def whatsapp_from(self) -> str | None:
        return None if self.whatsapp_number is None else f"whatsapp:{self.whatsapp_number}"


def _http_url(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TwilioConfigError(f"{where} must be an http(s) URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise TwilioConfigError(
            f"{where} must be an http(s) URL without query or fragment, got {value!r}")
    return value.rstrip("/")


def _number(value: Any, where: str) -> str:
    text = value.removeprefix("whatsapp:") if isinstance(value, str) else value
    if not isinstance(text, str) or not _E164.fullmatch(text):
        raise TwilioConfigError(f"{where} must be a number in E.164 form such as +34910000000")
    return text


def _token(value: dict[str, Any], where: str) -> str:
    if ("auth_token" in value) == ("auth_token_file" in value):
        raise TwilioConfigError(f"{where}: give exactly one of auth_token and auth_token_file")
    if "auth_token" in value:
        token = value["auth_token"]
        if not isinstance(token, str):
            raise TwilioConfigError(f"{where}.auth_token must be text")
    else:
        path = value["auth_token_file"]
        if not isinstance(path, str):
            raise TwilioConfigError(f"{where}.auth_token_file must be a path")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TwilioConfigError(
                f"{where}.auth_token_file: cannot read {path}: {exc.strerror}") from exc
        token = text.splitlines()[0].strip() if text.strip() else ""
    if len(token) < 5:
        raise TwilioConfigError(f"{where}: the auth token is empty or too short")
    return token


def parse_twilio(value: Any, where: str = "twilio") -> TwilioConfig:
    """Check the `twilio:` mapping; `TwilioConfigError` naming the key otherwise."""
    if not isinstance(value, dict):
        raise TwilioConfigError(f"{where} must be a mapping (account_sid, auth_token_file, ...)")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise TwilioConfigError(f"{where}: unknown key {unknown[0]!r}")
    sid = value.get("account_sid")
    if not isinstance(sid, str) or not _ACCOUNT_SID.fullmatch(sid):
        raise TwilioConfigError(f"{where}.account_sid must be AC followed by 32 hex digits")
    if "public_url" not in value:
        raise TwilioConfigError(f"{where}.public_url is required (where Twilio reaches us)")
    service = value.get("messaging_service_sid")
    if service is not None and (not isinstance(service, str)
                                or not _SERVICE_SID.fullmatch(service)):
        raise TwilioConfigError(
            f"{where}.messaging_service_sid must be MG followed by 32 hex digits")
    media = value.get("max_media_bytes", DEFAULT_MAX_MEDIA_BYTES)
    if isinstance(media, bool) or not isinstance(media, int) or not 0 < media <= 100 << 20:
        raise TwilioConfigError(f"{where}.max_media_bytes must be 1 to 104857600")
    timeout = value.get("send_timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise TwilioConfigError(f"{where}.send_timeout must be a positive number of seconds")
    help_text = value.get("help_text")
    if help_text is not None and (not isinstance(help_text, str) or not help_text.strip()
                                  or len(help_text) > 1600):
        raise TwilioConfigError(f"{where}.help_text must be text of 1 to 1600 characters")
    sms = value.get("sms_number")
    whatsapp = value.get("whatsapp_number")
    return TwilioConfig(
        account_sid=sid,
        auth_token=_token(value, where),
        public_url=_http_url(value["public_url"], f"{where}.public_url"),
        sms_number=None if sms is None else _number(sms, f"{where}.sms_number"),
        messaging_service_sid=service,
        whatsapp_number=None if whatsapp is None else _number(
            whatsapp, f"{where}.whatsapp_number"),
        api_base_url=_http_url(value.get("api_base_url", DEFAULT_API_BASE_URL),
                               f"{where}.api_base_url"),
        max_media_bytes=media,
        send_timeout=float(timeout),
        help_text=help_text,
    )
