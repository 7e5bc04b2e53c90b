"""Digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760).

Server side: `DigestAuthenticator` issues challenges and verifies `Authorization` headers.
Nonces are stateless (a timestamp from the injected clock, a salt, and an HMAC under a server
secret over both and the address the challenge went to), so a challenge costs no memory; the
only state kept is the highest nonce-count seen per accepted nonce (replay protection,
forgotten when the nonce expires) and recent failures (lockout, `common.lockout`).
Client side: `build_authorization()` answers a challenge.

The auth-param grammar (RFC 7235 §2.1) is parsed by `parse_auth_params()`, which raises
`SipParseError` on anything malformed and nothing else.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import logging
import re
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from common.lockout import LockoutPolicy, Lockouts, Refused
from media.clock import Clock
from voice.sip.errors import AuthError, SipParseError

log = logging.getLogger(__name__)

# Base algorithm name -> hash constructor name. "-sess" variants reuse the base hash.
_HASHES: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256"}
#: Algorithms offered in challenges, strongest first (RFC 8760 §2.4: order of preference).
OFFERED_ALGORITHMS: tuple[str, ...] = ("SHA-256", "MD5")

_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_SCHEME_RE = re.compile(r"^\s*([A-Za-z0-9\-.!%*_+`'~]+)(?:\s+|$)")
# Parameters always sent as quoted strings; the rest (algorithm, nc, stale, qop in
# credentials) are tokens, and some phones reject `algorithm="MD5"`.
_QUOTED = frozenset({"realm", "nonce", "opaque", "uri", "response", "cnonce", "username", "domain"})
_NC_RE = re.compile(r"^[0-9A-Fa-f]{8}$")
_MAX_PARAMS = 32


# --- the auth-param grammar ------------------------------------------------------------------


def parse_auth_params(text: str) -> dict[str, str]:
    """Parse `name=value, name="quoted, \\"value\\"", ...` into a dict (names lowercased).

    Empty list elements are tolerated (RFC 7230 §7). Raises `SipParseError` with a reason
    naming what is wrong and the character offset where.
    """
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            return params
        start = i
        while i < n and text[i] in _TOKEN_CHARS:
            i += 1
        name = text[start:i].lower()
        if not name:
            raise SipParseError(f"auth-param: expected a name at offset {start}")
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] != "=":
            raise SipParseError(f"auth-param: expected '=' after {name!r} at offset {i}")
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            value, i = _read_quoted(text, i)
        else:
            vstart = i
            while i < n and text[i] in _TOKEN_CHARS:
                i += 1
            value = text[vstart:i]
            if not value:
                raise SipParseError(f"auth-param: empty value for {name!r} at offset {vstart}")
        if name in params:
            raise SipParseError(f"auth-param: duplicate {name!r}")
        if len(params) >= _MAX_PARAMS:
            raise SipParseError("auth-param: too many parameters")
        params[name] = value
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] != ",":
            raise SipParseError(f"auth-param: expected ',' at offset {i}")


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Read the quoted-string starting at `text[i] == '"'`; return (unescaped value, end)."""
    out: list[str] = []
    start = i
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        elif ch in "\r\n":
            raise SipParseError(f"auth-param: line break in quoted string at offset {i}")
        else:
            out.append(ch)
            i += 1
    raise SipParseError(f"auth-param: unterminated quoted string at offset {start}")


def parse_challenge_header(value: str) -> tuple[str, dict[str, str]]:
    """Split `Digest realm="x", ...` into ("Digest", params). Raises `SipParseError`."""
    m = _SCHEME_RE.match(value)
    if m is None:
        raise SipParseError("auth: missing scheme")
    return m.group(1), parse_auth_params(value[m.end() :])


def quote(value: str) -> str:
    """A quoted-string with `\\` and `"` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_params(
    scheme: str, params: Mapping[str, str], *, also_quote: frozenset[str] = frozenset()
) -> str:
    """`Scheme a="b", c=d`: well-known string params (and `also_quote`) quoted, tokens bare."""
    parts = []
    for name, value in params.items():
        quoted = name in _QUOTED or name in also_quote
        bare = not quoted and value and all(c in _TOKEN_CHARS for c in value)
        parts.append(f"{name}={value if bare else quote(value)}")
    return f"{scheme} " + ", ".join(parts)


# --- the digest computation ------------------------------------------------------------------


def _split_algorithm(algorithm: str) -> tuple[str, bool]:
    """("SHA-256", sess?) for "sha-256-sess"; raise AuthError if unsupported."""
    upper = algorithm.upper()
    sess = upper.endswith("-SESS")
    base = upper[: -len("-SESS")] if sess else upper
    if base not in _HASHES:
        raise AuthError(f"unsupported digest algorithm {algorithm!r}")
    return base, sess


def _h(algorithm: str, data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.new(_HASHES[algorithm], raw).hexdigest()


def compute_ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password), the value a credential store may keep instead of the password."""
    base, _ = _split_algorithm(algorithm)
    return _h(base, f"{username}:{realm}:{password}")


def compute_response(
    *,
    ha1: str,
    algorithm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
    body: bytes = b"",
) -> str:
    """The `response` digest from a (non-sess) HA1 (RFC 7616 §3.4.1–3.4.3)."""
    base, sess = _split_algorithm(algorithm)
    if sess:
        ha1 = _h(base, f"{ha1}:{nonce}:{cnonce}")
    if qop == "auth-int":
        ha2 = _h(base, f"{method}:{uri}:{_h(base, body)}")
    else:
        ha2 = _h(base, f"{method}:{uri}")
    if qop is None:
        return _h(base, f"{ha1}:{nonce}:{ha2}")
    return _h(base, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


# --- client side -----------------------------------------------------------------------------


def build_authorization(
    challenge_header_value: str,
    method: str,
    uri: str,
    username: str,
    password: str,
    body: bytes = b"",
) -> str:
    """Answer one `WWW-Authenticate` / `Proxy-Authenticate` value; return the header value.

    Prefers qop=auth, falls back to auth-int (hashing `body`), or RFC 2069 style when the
    challenge has no qop. Raises `AuthError` for a non-Digest scheme or unknown algorithm,
    `SipParseError` for a malformed challenge.
    """
    scheme, ch = parse_challenge_header(challenge_header_value)
    if scheme.lower() != "digest":
        raise AuthError(f"unsupported auth scheme {scheme!r}")
    realm, nonce = ch.get("realm"), ch.get("nonce")
    if realm is None or nonce is None:
        raise AuthError("challenge lacks realm or nonce")
    algorithm = ch.get("algorithm", "MD5")
    _split_algorithm(algorithm)
    offered = {q.strip().lower() for q in ch.get("qop", "").split(",") if q.strip()}
    qop: str | None = None
    if "auth" in offered:
        qop = "auth"
    elif "auth-int" in offered:
        qop = "auth-int"
    elif offered:
        raise AuthError("challenge offers no supported qop")
    cnonce = secrets.token_hex(8)
    nc = "00000001"  # a fresh nonce per challenge: this builder never reuses one
    response = compute_response(
        ha1=compute_ha1(username, realm, password, algorithm),
        algorithm=algorithm,
        method=method.upper(),
        uri=uri,
        nonce=nonce,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
        body=body,
    )
    out: dict[str, str] = {"username": username, "realm": realm, "nonce": nonce, "uri": uri}
    out["response"] = response
    out["algorithm"] = algorithm
    if qop is not None:
        out.update(qop=qop, nc=nc, cnonce=cnonce)
    if "opaque" in ch:
        out["opaque"] = ch["opaque"]
    return format_params("Digest", out)


# --- credential stores -----------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """A user's secret: a plain password, or HA1 values keyed by base algorithm ("MD5")."""

    password: str | None = None
    ha1: Mapping[str, str] = field(default_factory=dict)

    def ha1_for(self, username: str, realm: str, algorithm: str) -> str | None:
        base, _ = _split_algorithm(algorithm)
        if base in self.ha1:
            return self.ha1[base].lower()
        if self.password is not None:
            return compute_ha1(username, realm, self.password, base)
        return None

    def __repr__(self) -> str:  # never print secrets
        return "Credential(<hidden>)"


class CredentialStore(Protocol):
    """Where the authenticator finds a user's secret (for its one realm)."""

    def get(self, username: str) -> Credential | None: ...


class StaticCredentials:
    """An in-memory store; values are plain passwords or `Credential`s."""

    def __init__(self, users: Mapping[str, str | Credential]) -> None:
        self._users = {
            u: (c if isinstance(c, Credential) else Credential(password=c))
            for u, c in users.items()
        }

    def get(self, username: str) -> Credential | None:
        return self._users.get(username)


# --- server side -----------------------------------------------------------------------------


class Verdict(enum.Enum):
    """The outcome of `DigestAuthenticator.verify()` and the response it calls for."""

    OK = "ok"  # proceed
    CHALLENGE = "challenge"  # 401, fresh challenge (no credentials, or a nonce not ours)
    STALE = "stale"  # 401 stale=true: our nonce for this source, but expired or replayed
    FAILED = "failed"  # 403: wrong credentials for our nonce
    LOCKED = "locked"  # 403: too many failures lately
    MALFORMED = "malformed"  # 400: unparsable or incomplete credentials


@dataclass(frozen=True)
class AuthResult:
    verdict: Verdict
    username: str | None = None
    reason: str = ""
    #: Seconds until a lockout ends (for a Retry-After header), when LOCKED.
    retry_after: float | None = None


@dataclass(frozen=True)
class AuthPolicy:
    """Tunables of `DigestAuthenticator`; all durations in seconds of the injected clock."""

    nonce_ttl: float = 300.0
    #: Failures per (username, source address) before that pair is locked out.
    max_failures: int = 5
    #: Failures per username from all sources before sources that have not registered as
    #: that user lately are locked out for it (the phone's own address still gets in).
    user_max_failures: int = 20
    #: Failures from one source address before it is locked out. Higher than the per-pair
    #: limit: one office behind a NAT shares an address, and one misconfigured phone there
    #: must not lock out every colleague; a password-spraying source still gets stopped.
    source_max_failures: int = 20
    failure_window: float = 60.0
    #: The first lockout; each repeated one of the same key doubles, up to `max_lockout`.
    lockout: float = 300.0
    max_lockout: float = 86_400.0
    #: A key's lockout count is forgotten after this long without a new lockout.
    strike_memory: float = 86_400.0
    #: How long a successful REGISTER keeps its (username, address) pair known-good.
    known_good_ttl: float = 7 * 86_400.0
    max_known_good: int = 10_000
    #: Bound on per-key failure records, so a flood of invented usernames can't grow memory.
    max_tracked: int = 10_000
    #: Challenge algorithms, most preferred first (RFC 8760 §2.4). Some phones (and SIPp) read
    #: only the first challenge and know only MD5: such sites configure ("MD5",).
    algorithms: tuple[str, ...] = OFFERED_ALGORITHMS

    def lockouts(self) -> LockoutPolicy:
        """The shared lockout policy (`common.lockout`) with these limits."""
        return LockoutPolicy(
            max_failures=self.max_failures, user_max_failures=self.user_max_failures,
            source_max_failures=self.source_max_failures, failure_window=self.failure_window,
            lockout=self.lockout, max_lockout=self.max_lockout,
            strike_memory=self.strike_memory, known_good_ttl=self.known_good_ttl,
            max_known_good=self.max_known_good, max_tracked=self.max_tracked,
        )  # fmt: skip


class DigestAuthenticator:
    """Challenge and verify digest credentials for one realm.

    A nonce is bound to the source address it was sent to: presented from anywhere else it
    is not ours, and gets a fresh challenge, never a failure, so nobody can spend a phone's
    failures from spoofed UDP sources. A nonce is checked (ours, for this source, not
    expired, not replayed) before the password, and only a wrong password for a valid nonce
    counts. Failures lock the (username, source) pair with growing lockouts; the higher
    per-username and per-source ceilings let in a phone's own address once it has
    registered (`common.lockout`). While a limit holds every attempt is refused, a
    correct one included, so guessing can't continue at a slower pace.

    Nonce timestamps come from `clock.now()` (monotonic), so nonces don't survive a restart
    and a cluster must route a client's retried REGISTER to the node that challenged it.
    """

    def __init__(
        self,
        realm: str,
        store: CredentialStore,
        clock: Clock,
        *,
        secret: bytes | None = None,
        policy: AuthPolicy | None = None,
    ) -> None:
        self.realm = realm
        self._store = store
        self._clock = clock
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self.policy = policy or AuthPolicy()
        self._lockouts = Lockouts(clock.now, self.policy.lockouts())
        self._opaque = secrets.token_hex(8)
        # nonce -> (highest nc accepted, nonce issue time); pruned as nonces expire.
        self._nonce_counts: dict[str, tuple[int, float]] = {}

    # -- nonces -----------------------------------------------------------------------------

    def make_nonce(self, source_ip: str) -> str:
        """A fresh nonce for `source_ip`: base64url(timestamp-ms | salt | MAC), where MAC is
        HMAC(secret, timestamp | salt | realm | source_ip), so it is valid from there only."""
        stamp = struct.pack(">Q", max(0, int(self._clock.now() * 1000)))
        payload = stamp + secrets.token_bytes(6)
        return base64.urlsafe_b64encode(payload + self._mac(payload, source_ip)).decode("ascii")

    def _mac(self, payload: bytes, source_ip: str) -> bytes:
        bound = payload + self.realm.encode() + b"\x00" + source_ip.encode()
        return hmac.new(self._secret, bound, hashlib.sha256).digest()[:16]

    def _nonce_issued_at(self, nonce: str, source_ip: str) -> float | None:
        """The issue time of a nonce we made for `source_ip`, or None if it isn't ours, was
        sent to another address, or is from the future."""
        try:
            raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
        if len(raw) != 30:
            return None
        payload, mac = raw[:14], raw[14:]
        if not hmac.compare_digest(mac, self._mac(payload, source_ip)):
            return None
        issued: float = struct.unpack(">Q", payload[:8])[0] / 1000
        if issued > self._clock.now() + 1:
            return None
        return issued

    # -- challenges -------------------------------------------------------------------------

    def challenges(self, source_ip: str, *, stale: bool = False) -> list[str]:
        """`WWW-Authenticate` values for a request from `source_ip`, one per algorithm,
        SHA-256 first (RFC 8760 §2.4)."""
        nonce = self.make_nonce(source_ip)
        out = []
        for algorithm in self.policy.algorithms:
            params = {"realm": self.realm, "nonce": nonce, "opaque": self._opaque}
            params["algorithm"] = algorithm
            params["qop"] = "auth"
            if stale:
                params["stale"] = "true"
            # qop-options is a quoted list in a challenge but a bare token in credentials.
            out.append(format_params("Digest", params, also_quote=frozenset({"qop"})))
        return out

    # -- verification -----------------------------------------------------------------------

    def verify(
        self,
        authorization: list[str] | str | None,
        method: str,
        source_ip: str,
        *,
        request_uri: str | None = None,
    ) -> AuthResult:
        """Check the request's `Authorization` value(s) for this realm.

        `request_uri`, when given, must equal the credentials' `uri` (leave it None behind a
        proxy that rewrites the Request-URI). Lockouts apply to credentials only: a request
        without them is challenged (a nonce costs nothing), and the answer meets the lock
        with its username, so a phone whose address is known-good is not refused for it.
        """
        values = [authorization] if isinstance(authorization, str) else (authorization or [])
        params: dict[str, str] | None = None
        for value in values:
            try:
                scheme, candidate = parse_challenge_header(value)
            except SipParseError as exc:
                return AuthResult(Verdict.MALFORMED, None, exc.reason)
            if scheme.lower() == "digest" and candidate.get("realm") == self.realm:
                params = candidate
                break
        if params is None:
            return AuthResult(Verdict.CHALLENGE, None, "no credentials for realm")
        return self._verify_params(params, method, source_ip, request_uri)

    def _verify_params(
        self, p: dict[str, str], method: str, source_ip: str, request_uri: str | None
    ) -> AuthResult:
        missing = [k for k in ("username", "nonce", "uri", "response") if k not in p]
        if missing:
            return AuthResult(Verdict.MALFORMED, None, f"credentials lack {missing[0]}")
        username = p["username"]
        algorithm = p.get("algorithm", "MD5")
        if algorithm.upper() not in self.policy.algorithms:
            # Only what we offered: accepting MD5 where a site chose SHA-256 is a downgrade.
            return AuthResult(Verdict.MALFORMED, username, "unsupported algorithm")
        if p.get("qop") != "auth":
            # We offered qop=auth only; accepting none would be a downgrade without nc.
            return AuthResult(Verdict.MALFORMED, username, "qop=auth required")
        nc_text, cnonce = p.get("nc", ""), p.get("cnonce", "")
        if not _NC_RE.match(nc_text) or not cnonce:
            return AuthResult(Verdict.MALFORMED, username, "bad nc or cnonce")
        if request_uri is not None and p["uri"] != request_uri:
            return AuthResult(Verdict.MALFORMED, username, "digest uri does not match")
        issued = self._nonce_issued_at(p["nonce"], source_ip)
        if issued is None:
            # Not our nonce (another node, a restart, a forgery, or one sent to another
            # address and replayed from here): challenge afresh, no penalty.
            return AuthResult(Verdict.CHALLENGE, username, "unknown nonce")
        # Expiry and replay are judged before the password, and whatever the password: an
        # answer that differed with it would be a guessing oracle outside the lockout.
        now = self._clock.now()
        if now - issued > self.policy.nonce_ttl:
            return AuthResult(Verdict.STALE, username, "nonce expired")
        nc = int(nc_text, 16)
        self._prune_nonces(now)
        last = self._nonce_counts.get(p["nonce"])
        if last is not None and nc <= last[0]:
            return AuthResult(Verdict.STALE, username, "nonce-count replayed")
        attempt = self._lockouts.reserve(username, source_ip)
        if isinstance(attempt, Refused):
            return AuthResult(
                Verdict.LOCKED, username, "too many failed attempts", attempt.retry_after
            )
        credential = self._store.get(username)
        ha1 = credential.ha1_for(username, self.realm, algorithm) if credential else None
        expected = compute_response(
            ha1=ha1 or "0" * 64,  # still compute, so unknown users answer in the same time
            algorithm=algorithm,
            method=method.upper(),
            uri=p["uri"],
            nonce=p["nonce"],
            qop="auth",
            nc=nc_text,
            cnonce=cnonce,
        )
        if ha1 is None or not hmac.compare_digest(expected, p["response"].lower()):
            if attempt.failed():
                # The username is personal data: DEBUG only. The source IP is what ops act on.
                log.warning("digest lockout started for source %s", source_ip)
                log.debug("digest lockout: username=%s", username)
            return AuthResult(Verdict.FAILED, username, "wrong credentials")
        attempt.succeeded()
        self._nonce_counts[p["nonce"]] = (nc, issued)
        return AuthResult(Verdict.OK, username)

    def _prune_nonces(self, now: float) -> None:
        horizon = now - self.policy.nonce_ttl
        if len(self._nonce_counts) > 1024 or any(
            issued < horizon for _, issued in self._nonce_counts.values()
        ):
            self._nonce_counts = {n: v for n, v in self._nonce_counts.items() if v[1] >= horizon}
