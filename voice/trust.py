"""Which SIP sources are trusted: a configured trunk, or a phone that registered with a password.

An INVITE's From is whatever the sender wrote; its source address is where the packet came
from. `TrustedSources.trust_of(address, caller)` says why a call is trusted, or None:

- `trunk`: the address is in `trusted_sources` (the carrier's or PBX's addresses and
  networks, `ipaddress` networks; loopback in the embedded demo's defaults);
- `registration`: the From user has a live binding with our registrar (it answered the
  digest challenge) and the INVITE comes from the address that registration came from.

Only trusted calls may make the server dial out (`voice.dialplan`). The addresses are IP
addresses, not ports: a trunk sends from several ports, and for UDP without `rport` the port
we know is the Via's. Like any address-based trunk ACL this relies on the network: UDP
source addresses can be forged, though a forged INVITE never sees our 200 and its to-tag, so
it cannot ACK and its call never gets its media started.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from voice.sip.errors import SipParseError
from voice.sip.headers import NameAddress
from voice.sip.message import SipRequest, SipResponse
from voice.sip.registrar import Registrar, aor_key

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The embedded demo listens on loopback only, and its callers are on this machine.
DEMO_TRUSTED_SOURCES = ("127.0.0.0/8", "::1/128")
# AORs remembered for the registration check; only users with a password can add one.
MAX_REGISTERED_AORS = 10_000


class TrustConfigError(ValueError):
    """A `trusted_sources` entry is wrong; the message says which and why."""


def parse_sources(value: Any, where: str) -> tuple[Network, ...]:
    """`trusted_sources`: a list of IP addresses and networks ("203.0.113.7", "10.0.0.0/8")."""
    if not isinstance(value, list | tuple):
        raise TrustConfigError(f"{where} must be a list of IP addresses or networks (CIDR)")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, str):
            raise TrustConfigError(f"{where}[{i}] must be an IP address or network, as text")
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=True))
        except ValueError as exc:
            # strict: "10.0.0.1/8" is refused rather than silently widened to 10.0.0.0/8.
            raise TrustConfigError(f"{where}[{i}]: {exc} (an IP address or a network such "
                                   "as 203.0.113.0/24; host names are not accepted)") from exc
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return addr


class RegisteredSources:
    """Wraps `Registrar.on_register` to remember which AORs have registered, and answers
    "is this INVITE from where that user's live registration came from" with the
    registrar's own `lookup()` (so expiry and removal are the registrar's)."""

    def __init__(self, registrar: Registrar) -> None:
        self._registrar = registrar
        self._aors: dict[str, set[str]] = {}  # user -> AOR keys it registered

    def on_register(self, request: SipRequest, source: tuple[str, int]) -> SipResponse:
        """The UA's `on_register` hook: the registrar answers; a 200 is remembered."""
        response = self._registrar.on_register(request, source)
        if response.status == 200 and request.method == "REGISTER":
            try:
                aor = aor_key(NameAddress.parse(request.headers.get("To") or "").uri)
            except SipParseError:
                return response
            user = aor.split(":", 1)[1].partition("@")[0]
            if sum(len(v) for v in self._aors.values()) < MAX_REGISTERED_AORS:
                self._aors.setdefault(user, set()).add(aor)
        return response

    def registered_from(self, user: str, address: str) -> bool:
        """Whether `user` has a live registration made from `address` (an IP address)."""
        wanted = _address(address)
        if wanted is None or not user:
            return False
        for aor in self._aors.get(user, ()):
            for binding in self._registrar.lookup(aor):
                if _address(binding.source[0]) == wanted:
                    return True
        return False


class TrustedSources:
    """`voice.calls.CallManager`'s trust policy: why an INVITE's source is trusted."""

    def __init__(self, networks: Iterable[Network],
                 registrations: RegisteredSources | None = None) -> None:
        self.networks = tuple(networks)
        self._registrations = registrations

    def trust_of(self, address: str, caller: str) -> str | None:
        """"trunk", "registration", or None for a source anyone could be."""
        addr = _address(address)
        if addr is None:
            return None
        if any(addr in net for net in self.networks if net.version == addr.version):
            return "trunk"
        if self._registrations is not None and \
                self._registrations.registered_from(caller, str(addr)):
            return "registration"
        return None
