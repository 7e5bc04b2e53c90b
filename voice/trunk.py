"""The carrier trunk numbers are dialed through: where it is, how to reach it, how to log in.

A trunk is an operator's SIP carrier or PBX; Twilio's Elastic SIP Trunking is the common one
(its termination URI `example.pstn.twilio.com`, TLS on 5061, a credential list for digest).
`trunk:` in the settings is either the short form `HOST:PORT` (UDP, no login: a PBX on the
operator's network) or a mapping:

    trunk:
      host: example.pstn.twilio.com
      port: 5061                  # default 5060, 5061 with tls
      transport: tls              # udp | tcp | tls
      username: centralita        # digest credentials, answered to 401/407 from the trunk only
      password_file: /etc/centralita/trunk.secret
      caller_id: "+34910000000"   # From for calls the server places itself (callbacks)
      tls_ca: /etc/ssl/certs/ca-certificates.crt   # default: the system's CAs

Credentials are offered only to the trunk's own host and port: a challenge from any other
target is not answered with them. What is dialed through the trunk is decided by
`voice.dialplan` (this module only says where and how).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from voice.sip.errors import SipParseError
from voice.sip.headers import SipUri

Transport = Literal["udp", "tcp", "tls"]
_DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}
_KEYS = {"host", "port", "transport", "username", "password", "password_file", "caller_id",
         "tls_ca"}


class TrunkConfigError(ValueError):
    """The `trunk:` setting is malformed; the message says where and what."""


@dataclass(frozen=True)
class TrunkConfig:
    host: str
    port: int
    transport: Transport = "udp"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # The number presented on calls the server places on its own (callbacks); a carrier such
    # as Twilio refuses a From that is not one of the account's numbers.
    caller_id: str | None = None
    tls_ca: Path | None = None

    @property
    def hostport(self) -> str:
        """`host:port` as the dial plan writes it after `@` (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def uri_params(self) -> str:
        """What follows `host:port` in a URI dialed through the trunk."""
        return "" if self.transport == "udp" else f";transport={self.transport}"

    def is_trunk(self, target: str) -> bool:
        """Whether `target` (a SIP URI) is addressed to this trunk's host and port."""
        try:
            uri = SipUri.parse(target)
        except SipParseError:
            return False
        transport = (uri.params.get("transport")
                     or ("tls" if uri.scheme == "sips" else "udp")).lower()
        port = uri.port or _DEFAULT_PORT.get(transport, 5060)
        return uri.host.strip("[]").lower() == self.host.lower() and port == self.port

    def credentials_for(self, target: str) -> tuple[str, str] | None:
        """The digest login to answer a challenge for a call to `target`: only the trunk's."""
        if self.username is None or self.password is None or not self.is_trunk(target):
            return None
        return self.username, self.password

    def presented_from(self, from_uri: str) -> str:
        """The From for a call through the trunk: a call the server places on its own (its
        From user is not a number, e.g. `centralita` for a callback) presents `caller_id`; a
        transfer that presents the original caller's number keeps it."""
        if self.caller_id is None:
            return from_uri
        try:
            uri = SipUri.parse(from_uri)
        except SipParseError:
            return from_uri
        user = uri.user or ""
        if user.startswith("+") and user[1:].isdigit():
            return from_uri
        host = f"[{uri.host}]" if ":" in uri.host else uri.host
        port = f":{uri.port}" if uri.port else ""
        return f"sip:{self.caller_id}@{host}{port}"

    def client_context(self) -> ssl.SSLContext | None:
        """The client TLS context for the trunk (TLS 1.2 at least, certificate and host name
        verified against the system's CAs and `tls_ca`); None when the trunk is not TLS."""
        if self.transport != "tls":
            return None
        context = ssl.create_default_context()  # the system's CAs, and the operator's too
        if self.tls_ca is not None:
            context.load_verify_locations(cafile=str(self.tls_ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def parse_trunk(value: Any, where: str) -> TrunkConfig:
    """`HOST:PORT`, or the mapping in the module docstring."""
    if isinstance(value, str):
        short_host, short_port = _host_port(value, where)
        return TrunkConfig(short_host, short_port)
    if not isinstance(value, dict):
        raise TrunkConfigError(f"{where} must be 'HOST:PORT' or a mapping")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise TrunkConfigError(f"{where}: unknown key {unknown[0]!r}")
    host = value.get("host")
    if not isinstance(host, str) or not host.strip("[]"):
        raise TrunkConfigError(f"{where}: host is required (a name or an address)")
    transport = value.get("transport", "udp")
    if transport not in _DEFAULT_PORT:
        raise TrunkConfigError(f"{where}: transport must be udp, tcp or tls")
    port = value.get("port", _DEFAULT_PORT[transport])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise TrunkConfigError(f"{where}: port must be a port number")
    username = _text(value, "username", where)
    password = _password(value, where)
    if (username is None) != (password is None):
        raise TrunkConfigError(f"{where}: username and a password go together")
    caller_id = _text(value, "caller_id", where)
    if caller_id is not None and not (caller_id.startswith("+") and caller_id[1:].isdigit()):
        raise TrunkConfigError(f"{where}: caller_id must be a number in E.164 form (+...)")
    tls_ca = _text(value, "tls_ca", where)
    if tls_ca is not None and transport != "tls":
        raise TrunkConfigError(f"{where}: tls_ca is for transport: tls")
    if tls_ca is not None and not Path(tls_ca).is_file():
        raise TrunkConfigError(f"{where}: tls_ca: no such file {tls_ca}")
    return TrunkConfig(host.strip("[]"), port, transport, username, password, caller_id,
                       Path(tls_ca) if tls_ca is not None else None)


def _host_port(text: str, where: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TrunkConfigError(f"{where}: expected HOST:PORT, got {text!r}")
    return host, int(port)


def _text(value: dict[str, Any], key: str, where: str) -> str | None:
    found = value.get(key)
    if found is None:
        return None
    if not isinstance(found, str) or not found:
        raise TrunkConfigError(f"{where}: {key} must be text")
    return found


def _password(value: dict[str, Any], where: str) -> str | None:
    inline = _text(value, "password", where)
    path = _text(value, "password_file", where)
    if inline is not None and path is not None:
        raise TrunkConfigError(f"{where}: password or password_file, not both")
    if path is None:
        return inline
    try:
        secret = Path(path).read_text().strip()
    except OSError as exc:
        raise TrunkConfigError(f"{where}: password_file: cannot read {path}: "
                               f"{exc.strerror}") from exc
    if not secret:
        raise TrunkConfigError(f"{where}: password_file {path} is empty")
    return secret
