"""The `email:` section of the config file: the relay we send through and the listener that
receives replies.

    email:
      smtp_host: smtp.example.com     # the provider's relay (required)
      smtp_port: 587
      starttls: true                  # upgrade the connection before login (587)
      tls: false                      # implicit TLS instead (465); not with starttls
      ca_file: /etc/ssl/relay-ca.pem  # trust this CA for the relay (private relays, tests)
      username: centralita            # login, with the password read from password_file
      password_file: /run/secrets/smtp
      from_address: support@example.com
      reply_domain: reply.example.com # replies go to reply+TOKEN@reply_domain
      listen: 0.0.0.0:2525            # the inbound SMTP listener; absent: none
      inbox_addresses: [support@example.com]   # accepted besides reply addresses
      max_message_bytes: 26214400     # SIZE: a larger message gets 552 (25 MiB)
      max_attachment_bytes: 10485760  # per attachment (10 MiB)
      imap:                           # poll a hosted mailbox too (channels.email_imap)
        host: imap.example.com
        port: 993                     # tls: true (default); 143 with tls: false
        username: support@example.com
        password_file: /run/secrets/imap
        mailbox: INBOX
        interval: 30                  # seconds between polls
        address: support@example.com  # the mailbox's own address

`parse_email_settings` raises `EmailConfigError` naming the key, so `centralita.settings`
reports it with the file before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cases.errors import InvalidInput
from cases.identity import normalize_email

DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_KEYS = {
    "smtp_host", "smtp_port", "starttls", "tls", "ca_file", "username", "password_file",
    "from_address", "reply_domain", "listen", "inbox_addresses", "max_message_bytes",
    "max_attachment_bytes", "imap",
}
_IMAP_KEYS = {"host", "port", "tls", "ca_file", "username", "password_file", "mailbox",
              "interval", "address"}


class EmailConfigError(ValueError):
    """A wrong `email:` setting; the message names the key."""


@dataclass(frozen=True)
class ImapSettings:
    """`email.imap`: the mailbox to poll (password read from its file at load)."""

    host: str
    username: str
    password: str
    port: int = 993
    tls: bool = True
    ca_file: str | None = None
    mailbox: str = "INBOX"
    interval: float = 30.0
    address: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class EmailSettings:
    """What the email channel needs (see the module doc). `password` was read from
    `password_file` at load; `listen` is (host, port) or None."""

    smtp_host: str
    from_address: str
    reply_domain: str
    smtp_port: int = 587
    starttls: bool = True
    tls: bool = False
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None
    listen: tuple[str, int] | None = None
    inbox_addresses: frozenset[str] = frozenset()
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    imap: ImapSettings | None = None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EmailConfigError(f"{where} must be text")
    return value.strip()


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise EmailConfigError(f"{where} must be true or false")
    return value


def _size(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 1 << 30:
        raise EmailConfigError(f"{where} must be a number of bytes from 1024 to 1 GiB")
    return value


def _address(value: Any, where: str) -> str:
    try:
        return normalize_email(_text(value, where), where=where)
    except InvalidInput as exc:
        raise EmailConfigError(f"{where}: {exc.what}") from exc


def _listen(value: Any, where: str) -> tuple[str, int]:
    text = _text(value, where)
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EmailConfigError(f"{where}: expected HOST:PORT, got {text!r}")
    return host, int(port)


def _password(value: dict[str, Any], where: str) -> str:
    path = _text(value.get("password_file"), f"{where}.password_file")
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError) as exc:
        raise EmailConfigError(f"{where}.password_file: cannot read a password from {path}") \
            from exc


def _imap(value: Any, where: str) -> ImapSettings:
    if not isinstance(value, dict):
        raise EmailConfigError(f"{where} must be a mapping")
    unknown = sorted(set(value) - _IMAP_KEYS)
    if unknown:
        raise EmailConfigError(f"{where}: unknown key {unknown[0]!r}")
    tls = _flag(value.get("tls", True), f"{where}.tls")
    port = value.get("port", 993 if tls else 143)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise EmailConfigError(f"{where}.port must be a port number")
    interval = value.get("interval", 30)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 1:
        raise EmailConfigError(f"{where}.interval must be at least 1 second")
    ca_file = value.get("ca_file")
    address = value.get("address")
    return ImapSettings(
        host=_text(value.get("host"), f"{where}.host"),
        username=_text(value.get("username"), f"{where}.username"),
        password=_password(value, where), port=port, tls=tls,
        ca_file=_text(ca_file, f"{where}.ca_file") if ca_file is not None else None,
        mailbox=_text(value.get("mailbox", "INBOX"), f"{where}.mailbox"),
        interval=float(interval),
        address=_address(address, f"{where}.address") if address is not None else None,
    )


def parse_email_settings(value: Any, where: str = "email") -> EmailSettings:
    """The `email:` mapping as `EmailSettings`; `EmailConfigError` naming the bad key."""
    if not isinstance(value, dict):
        raise EmailConfigError(f"{where} must be a mapping")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise EmailConfigError(f"{where}: unknown key {unknown[0]!r}")
    for key in ("smtp_host", "from_address", "reply_domain"):
        if key not in value:
            raise EmailConfigError(f"{where}.{key} is required")
    port = value.get("smtp_port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise EmailConfigError(f"{where}.smtp_port must be a port number")
    starttls = _flag(value.get("starttls", True), f"{where}.starttls")
    tls = _flag(value.get("tls", False), f"{where}.tls")
    if starttls and tls:
        raise EmailConfigError(f"{where}: starttls and tls exclude each other (587 or 465)")
    domain = _text(value["reply_domain"], f"{where}.reply_domain").lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise EmailConfigError(f"{where}.reply_domain is not a domain name") from exc
    username = value.get("username")
    password: str | None = None
    if username is not None:
        username = _text(username, f"{where}.username")
        if "password_file" not in value:
            raise EmailConfigError(f"{where}: username needs password_file")
        password = _password(value, where)
    elif "password_file" in value:
        raise EmailConfigError(f"{where}: password_file needs username")
    inbox = value.get("inbox_addresses", [])
    if not isinstance(inbox, list):
        raise EmailConfigError(f"{where}.inbox_addresses must be a list of addresses")
    ca_file = value.get("ca_file")
    return EmailSettings(
        smtp_host=_text(value["smtp_host"], f"{where}.smtp_host"),
        smtp_port=port,
        starttls=starttls,
        tls=tls,
        ca_file=Path(_text(ca_file, f"{where}.ca_file")) if ca_file is not None else None,
        username=username,
        password=password,
        from_address=_address(value["from_address"], f"{where}.from_address"),
        reply_domain=domain,
        listen=_listen(value["listen"], f"{where}.listen") if "listen" in value else None,
        inbox_addresses=frozenset(
            _address(a, f"{where}.inbox_addresses[{i}]") for i, a in enumerate(inbox)),
        max_message_bytes=_size(value.get("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES),
                                f"{where}.max_message_bytes"),
        max_attachment_bytes=_size(
            value.get("max_attachment_bytes", DEFAULT_MAX_ATTACHMENT_BYTES),
            f"{where}.max_attachment_bytes"),
        imap=_imap(value["imap"], f"{where}.imap") if "imap" in value else None,
    )
