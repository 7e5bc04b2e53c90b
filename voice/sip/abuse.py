"""SIP scanner handling: who may reach the user agent at all (`SourceGuard`).

A public SIP port is scanned all day (sipvicious' `friendly-scanner`, sipcli, iWar, ...):
OPTIONS sweeps, REGISTER password guessing, INVITE floods looking for a way out to the
phone network. The guard answers none of it, since a scanner that gets no answer sees no
server and moves on, and keeps the cost of ignoring it low:

- a request whose User-Agent names a known scanner is dropped, and its source banned;
- INVITE and REGISTER outside a dialog take a token from their source address's bucket
  (`rate` a second, up to `burst` at once); a source that runs out is banned;
- a banned address gets nothing for `ban_seconds`: its datagrams are dropped before they
  are even parsed (`blocked()`), so a flood costs one dict lookup a packet;
- OPTIONS from a configured health checker (a load balancer, Kamailio's dispatcher) is
  always answered, scanner rules and bans notwithstanding;
- `exempt` networks (the trunks) are never rate limited nor banned.

Dropping means no response at all, not a 403 or a 503: any answer confirms that something
listens. Only the address is kept (never the From, To or User-Agent), and the table of
sources is bounded. Counts are in `counters` (`SipUserAgent.metrics` merges them, the
Prometheus exporter reads them from there). Time comes from the injected `now`.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Now = Callable[[], float]

#: Substrings (matched case-insensitively) of the User-Agent of well-known SIP scanners and
#: toll-fraud tools: SIPVicious (friendly-scanner, sipvicious), sipcli, VaxSIPUserAgent,
#: sip-scan, SIPScan, iWar, sundayddr, pplsip, SIPBomber, sip army knife. Each must start a
#: word of the header ("x-iwar/1" matches, "kiwari" does not).
DEFAULT_SCANNER_AGENTS: tuple[str, ...] = (
    "friendly-scanner", "sipvicious", "sipcli", "VaxSIPUserAgent", "sip-scan", "sipscan",
    "iWar", "sundayddr", "pplsip", "sipbomber", "sip-bomber", "siparmyknife",
)

#: The requests that cost a token: the ones that try passwords or try to place calls.
LIMITED_METHODS = frozenset({"INVITE", "REGISTER"})

COUNTER_NAMES = ("abuse_dropped_scanner", "abuse_dropped_banned", "abuse_dropped_rate",
                 "abuse_bans")


class AbuseConfigError(ValueError):
    """A `sip_abuse` setting is wrong; the message names the key."""


@dataclass(frozen=True)
class AbuseSettings:
    """The `sip_abuse` section (see the module docstring and README "SIP scanners")."""

    enabled: bool = True
    scanner_user_agents: tuple[str, ...] = DEFAULT_SCANNER_AGENTS
    # INVITE + REGISTER a second per source address, and how many may come at once. A desk
    # phone registers every few minutes and calls a few times an hour; a PBX behind one
    # address that is not a trunk should be listed in `exempt`.
    rate: float = 10.0
    burst: int = 30
    ban_seconds: float = 600.0
    health_checkers: tuple[Network, ...] = ()
    # None: the server's `trusted_sources` (the trunks), which carry real traffic in bulk.
    exempt: tuple[Network, ...] | None = None
    # Sources remembered at once; the least recently seen idle one is forgotten first.
    max_sources: int = 100_000


@dataclass
class _Source:
    tokens: float
    at: float
    banned_until: float = 0.0
    exempt: bool = False
    checker: bool = False


@dataclass
class SourceGuard:
    """Decides, per received request, whether the user agent sees it (module docstring)."""

    settings: AbuseSettings
    now: Now
    exempt: tuple[Network, ...] = ()
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_NAMES, 0))

    def __post_init__(self) -> None:
        agents = [re.escape(a.lower()) for a in self.settings.scanner_user_agents if a]
        self._agents = re.compile(r"(?<![a-z0-9])(?:" + "|".join(agents) + ")") if agents \
            else None
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self._banned: dict[str, float] = {}  # address -> until, for the pre-parse check

    # -- the two checks -------------------------------------------------------------------------
    def blocked(self, address: str) -> bool:
        """Before parsing: is `address` banned right now? (Counted as a dropped message.)"""
        until = self._banned.get(address)
        if until is None:
            return False
        if self.now() >= until:
            del self._banned[address]
            return False
        self.counters["abuse_dropped_banned"] += 1
        return True

    def admit(
        self, method: str, address: str, user_agent: str | None, *, in_dialog: bool = False
    ) -> bool:
        """A request from `address`: may it go on to the user agent? Only requests outside a
        dialog take a token; a scanner's user agent is dropped in or out of one."""
        source = self._source(address)
        if source.checker and method == "OPTIONS":
            return True
        if source.banned_until > self.now():
            self.counters["abuse_dropped_banned"] += 1
            return False
        if user_agent and self._is_scanner(user_agent):
            self.counters["abuse_dropped_scanner"] += 1
            self._ban(address, source)
            return False
        if in_dialog or method not in LIMITED_METHODS or source.exempt:
            return True
        now = self.now()
        s = self.settings
        source.tokens = min(float(s.burst), source.tokens + (now - source.at) * s.rate)
        source.at = now
        if source.tokens >= 1.0:
            source.tokens -= 1.0
            return True
        self.counters["abuse_dropped_rate"] += 1
        self._ban(address, source)
        return False

    # -- figures --------------------------------------------------------------------------------
    @property
    def banned_now(self) -> int:
        now = self.now()
        return sum(1 for until in self._banned.values() if until > now)

    # -- internals ------------------------------------------------------------------------------
    def _is_scanner(self, user_agent: str) -> bool:
        return self._agents is not None and self._agents.search(user_agent.lower()) is not None

    def _ban(self, address: str, source: _Source) -> None:
        if source.exempt or source.checker:
            return  # a trunk or a health checker is dropped per request, never banned
        source.banned_until = self.now() + self.settings.ban_seconds
        self._banned[address] = source.banned_until
        self.counters["abuse_bans"] += 1
        # The address is the only thing logged: the request's headers are the sender's words.
        log.warning("SIP source %s banned for %.0f s", address, self.settings.ban_seconds)

    def _source(self, address: str) -> _Source:
        source = self._sources.get(address)
        if source is not None:
            self._sources.move_to_end(address)
            return source
        ip = _ip(address)
        source = _Source(
            tokens=float(self.settings.burst), at=self.now(),
            exempt=ip is not None and _within(ip, self.exempt),
            checker=ip is not None and _within(ip, self.settings.health_checkers),
        )
        self._sources[address] = source
        if len(self._sources) > self.settings.max_sources:
            self._forget()
        return source

    def _forget(self) -> None:
        """Drop the least recently seen sources that are not banned (bans are kept)."""
        now = self.now()
        excess = len(self._sources) - self.settings.max_sources
        for address in list(self._sources)[: max(excess * 2, 1)]:
            if excess <= 0:
                break
            if self._sources[address].banned_until <= now:
                del self._sources[address]
                self._banned.pop(address, None)
                excess -= 1
        if len(self._banned) > self.settings.max_sources:
            for address in [a for a, until in self._banned.items() if until <= now]:
                del self._banned[address]


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _within(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Iterable[Network]) -> bool:
    return any(ip in net for net in nets if net.version == ip.version)


# -- the settings section ---------------------------------------------------------------------------
_KEYS = {"enabled", "scanner_user_agents", "rate", "burst", "ban_seconds", "health_checkers",
         "exempt", "max_sources"}


def parse_abuse(value: Any, where: str) -> AbuseSettings:
    """`sip_abuse: {enabled, scanner_user_agents, rate, burst, ban_seconds, health_checkers,
    exempt, max_sources}`; every key optional."""
    if not isinstance(value, dict):
        raise AbuseConfigError(f"{where} must be a mapping")
    unknown = set(value) - _KEYS
    if unknown:
        raise AbuseConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    d = AbuseSettings()
    enabled = value.get("enabled", d.enabled)
    if not isinstance(enabled, bool):
        raise AbuseConfigError(f"{where}.enabled must be true or false")
    agents = value.get("scanner_user_agents", list(d.scanner_user_agents))
    if not isinstance(agents, list) or not all(isinstance(a, str) and a.strip() for a in agents):
        raise AbuseConfigError(f"{where}.scanner_user_agents must be a list of text")
    rate = _number(value.get("rate", d.rate), f"{where}.rate", minimum=0.001)
    burst = value.get("burst", d.burst)
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise AbuseConfigError(f"{where}.burst must be a whole number >= 1")
    ban = _number(value.get("ban_seconds", d.ban_seconds), f"{where}.ban_seconds", minimum=0.0)
    max_sources = value.get("max_sources", d.max_sources)
    if isinstance(max_sources, bool) or not isinstance(max_sources, int) or max_sources < 100:
        raise AbuseConfigError(f"{where}.max_sources must be a whole number >= 100")
    exempt = value.get("exempt")
    return AbuseSettings(
        enabled=enabled,
        scanner_user_agents=tuple(a.strip() for a in agents),
        rate=rate, burst=burst, ban_seconds=ban,
        health_checkers=_networks(value.get("health_checkers", []), f"{where}.health_checkers"),
        exempt=None if exempt is None else _networks(exempt, f"{where}.exempt"),
        max_sources=max_sources,
    )


def _number(value: Any, where: str, *, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise AbuseConfigError(f"{where} must be a number >= {minimum:g}")
    return float(value)


def _networks(value: Any, where: str) -> tuple[Network, ...]:
    if not isinstance(value, list):
        raise AbuseConfigError(f"{where} must be a list of IP addresses or networks (CIDR)")
    out: list[Network] = []
    for i, entry in enumerate(value):
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=True))
        except ValueError as exc:
            raise AbuseConfigError(f"{where}[{i}]: {exc}") from exc
    return tuple(out)
