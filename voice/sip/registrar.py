"""A registrar for desk phones (RFC 3261 §10.3) with digest authentication.

REGISTER → 401 challenge → 200 listing the AOR's current Contacts with their remaining
`expires`. A wrong answer to a challenge gets 403 (not another 401, which phones loop on),
as do lockouts and an authenticated user registering someone else's AOR. Bindings expire on
the injected clock; `lookup()` returns the live ones, for routing calls to the phones.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from media.clock import Clock
from voice.sip.auth import (
    AuthPolicy,
    Credential,
    DigestAuthenticator,
    StaticCredentials,
    Verdict,
)
from voice.sip.builder import make_response, new_tag
from voice.sip.errors import SipParseError
from voice.sip.headers import NameAddress, SipUri
from voice.sip.message import SipRequest, SipResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrarConfig:
    """Who may register, and the expiry limits.

    `users` maps a username (the AOR's user part, also the digest username) to a plain
    password or a `Credential` holding precomputed HA1 values. `domains`, when not empty,
    lists the AOR hosts this registrar is responsible for.
    """

    realm: str
    users: Mapping[str, str | Credential] = field(default_factory=dict)
    domains: frozenset[str] = frozenset()
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    max_contacts: int = 10
    policy: AuthPolicy = field(default_factory=AuthPolicy)
    #: HMAC key for nonces; None = random per process. Share it across nodes of a cluster.
    secret: bytes | None = field(default=None, repr=False)
    #: Require the digest `uri` to equal the Request-URI; off behind a rewriting proxy.
    strict_digest_uri: bool = False


@dataclass
class Binding:
    """One registered Contact of an AOR."""

    aor: str
    contact: str  # the Contact URI, where to send INVITEs
    expires_at: float  # on the registrar's clock
    call_id: str
    cseq: int
    source: tuple[str, int]  # where the REGISTER came from (the NAT's public side)
    q: float = 1.0
    raw: str = ""  # the Contact header value as sent, params included

    def remaining(self, now: float) -> int:
        return max(0, math.ceil(self.expires_at - now))


class _Reject(Exception):
    """Internal: abort processing with this status and reason."""

    def __init__(self, status: int, reason: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra = extra


def aor_key(uri: str) -> str:
    """The canonical AOR for a SIP URI: `sip:user@host`, host lowercased, no port or params.

    Raises `SipParseError` for URIs without a user part.
    """
    parsed = SipUri.parse(uri)
    if not parsed.user:
        raise SipParseError("AOR without a user part")
    scheme = "sip" if parsed.scheme in ("sip", "sips") else parsed.scheme
    return f"{scheme}:{parsed.user}@{parsed.host.lower()}"


class Registrar:
    """Handles out-of-dialog REGISTER requests and keeps the location bindings."""

    def __init__(self, config: RegistrarConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self.auth = DigestAuthenticator(
            config.realm,
            StaticCredentials(config.users),
            clock,
            secret=config.secret,
            policy=config.policy,
        )
        self._bindings: dict[str, dict[str, Binding]] = {}

    # -- the UA's entry points ----------------------------------------------------------------

    async def handle(self, request: SipRequest, source: tuple[str, int]) -> SipResponse:
        """Answer a REGISTER (the UA's `on_register` hook)."""
        return self.on_register(request, source)

    def on_register(self, request: SipRequest, source: tuple[str, int]) -> SipResponse:
        """The synchronous core of `handle()`."""
        if request.method != "REGISTER":
            resp = make_response(request, 405, "Method Not Allowed", to_tag=new_tag())
            resp.headers.add("Allow", "REGISTER")
            return resp
        try:
            return self._register(request, source)
        except _Reject as rej:
            resp = make_response(request, rej.status, rej.reason, to_tag=new_tag())
            for name, value in rej.extra:
                resp.headers.add(name, value)
            return resp
        except SipParseError as exc:
            return make_response(request, 400, exc.reason, to_tag=new_tag())

    # -- routing ------------------------------------------------------------------------------

    def lookup(self, aor: str) -> list[Binding]:
        """Live bindings of `aor` (any form of its URI), highest q first; [] if none."""
        try:
            key = aor_key(aor)
        except SipParseError:
            return []
        self._expire(key)
        return sorted(self._bindings.get(key, {}).values(), key=lambda b: -b.q)

    # -- processing ---------------------------------------------------------------------------

    def _register(self, request: SipRequest, source: tuple[str, int]) -> SipResponse:
        to = NameAddress.parse(request.headers.get("To") or "")
        aor = aor_key(to.uri)
        _, _, host = aor.partition("@")
        if self.config.domains and host not in self.config.domains:
            raise _Reject(404, "Not Found (domain not served here)")
        required = [r for v in request.headers.get_all("Require") for r in v.split(",")]
        if any(r.strip() for r in required):
            unsupported = ", ".join(r.strip() for r in required if r.strip())
            raise _Reject(420, "Bad Extension", (("Unsupported", unsupported),))

        username = self._authenticate(request, source)
        if aor.split(":", 1)[1].partition("@")[0] != username:
            log.debug("REGISTER for another user's AOR refused: user=%s", username)
            raise _Reject(403, "Forbidden (AOR does not match credentials)")

        contacts = request.headers.get_all("Contact")
        call_id = request.call_id
        cseq, _ = request.cseq
        header_expires = self._header_expires(request)
        now = self._clock.now()
        self._expire(aor)
        current = self._bindings.setdefault(aor, {})

        if any(c.strip() == "*" for c in contacts):
            if len(contacts) != 1 or header_expires != 0:
                raise _Reject(400, "Bad Request (Contact: * needs Expires: 0 alone)")
            for binding in current.values():
                self._check_order(binding, call_id, cseq)
            current.clear()
        else:
            updates = [self._parse_contact(c, header_expires) for c in contacts]
            for uri, _, _, _ in updates:
                if uri in current:
                    self._check_order(current[uri], call_id, cseq)
            # Build the result aside so a refused request changes nothing (all or nothing).
            result = dict(current)
            for uri, raw, expires, q in updates:
                if expires == 0:
                    result.pop(uri, None)
                else:
                    result[uri] = Binding(aor, uri, now + expires, call_id, cseq, source, q, raw)
            if len(result) > self.config.max_contacts:
                raise _Reject(403, "Forbidden (too many contacts)")
            current.clear()
            current.update(result)
        if not current:
            del self._bindings[aor]
        log.debug("REGISTER ok for %s from %s: %d binding(s)", username, source, len(current))
        return self._ok(request, aor)

    def _authenticate(self, request: SipRequest, source: tuple[str, int]) -> str:
        result = self.auth.verify(
            request.headers.get_all("Authorization"),
            request.method,
            source[0],
            request_uri=request.uri if self.config.strict_digest_uri else None,
        )
        if result.verdict is Verdict.OK and result.username is not None:
            return result.username
        if result.verdict in (Verdict.CHALLENGE, Verdict.STALE):
            stale = result.verdict is Verdict.STALE
            headers = tuple(("WWW-Authenticate", v) for v in self.auth.challenges(source[0], stale=stale))
            raise _Reject(401, "Unauthorized", headers)
        if result.verdict is Verdict.LOCKED:
            retry = str(math.ceil(result.retry_after or self.config.policy.lockout))
            raise _Reject(
                403, "Forbidden (locked out: too many failures)", (("Retry-After", retry),)
            )
        if result.verdict is Verdict.FAILED:
            raise _Reject(403, "Forbidden (wrong credentials)")
        raise _Reject(400, f"Bad Request ({result.reason})")

    def _header_expires(self, request: SipRequest) -> int | None:
        value = request.headers.get("Expires")
        if value is None:
            return None
        return _parse_delta(value)

    def _parse_contact(self, value: str, header_expires: int | None) -> tuple[str, str, int, float]:
        """(URI, raw value, granted expiry, q) for one Contact; 423 if too brief."""
        addr = NameAddress.parse(value)
        SipUri.parse(addr.uri)  # validates; the binding keeps the URI as sent
        param = addr.params.get("expires")
        if param is not None:
            requested = _parse_delta(param)
        elif header_expires is not None:
            requested = header_expires
        else:
            requested = self.config.default_expires
        if 0 < requested < self.config.min_expires:
            raise _Reject(
                423, "Interval Too Brief", (("Min-Expires", str(self.config.min_expires)),)
            )
        q_text = addr.params.get("q")
        try:
            q = float(q_text) if q_text is not None else 1.0
        except ValueError as exc:
            raise SipParseError("bad Contact q") from exc
        if not 0.0 <= q <= 1.0:
            raise SipParseError("bad Contact q")
        return addr.uri, value, min(requested, self.config.max_expires), q

    @staticmethod
    def _check_order(binding: Binding, call_id: str, cseq: int) -> None:
        # RFC 3261 §10.3 step 7: a same-Call-ID update must come with a higher CSeq.
        if binding.call_id == call_id and cseq <= binding.cseq:
            raise _Reject(500, "Server Internal Error (out-of-order REGISTER)")

    def _expire(self, aor: str) -> None:
        current = self._bindings.get(aor)
        if not current:
            return
        now = self._clock.now()
        for uri in [u for u, b in current.items() if b.expires_at <= now]:
            del current[uri]
        if not current:
            del self._bindings[aor]

    def _ok(self, request: SipRequest, aor: str) -> SipResponse:
        resp = make_response(request, 200, "OK", to_tag=new_tag())
        now = self._clock.now()
        for binding in self._bindings.get(aor, {}).values():
            resp.headers.add("Contact", f"<{binding.contact}>;expires={binding.remaining(now)}")
        return resp


def _parse_delta(text: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise SipParseError("bad expires value")
    # RFC 3261 §20.19: values past 2**32-1 mean 2**32-1; the max_expires cap follows.
    return min(int(text), 2**32 - 1)
