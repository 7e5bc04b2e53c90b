"""Registrar: the challenge round trip, expiry, unregister, 423, 403s, lookup."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from media.clock import FakeClock
from tests.conftest import ServerFactory
from tests.helpers.server import ServerOptions
from voice.sip.auth import AuthPolicy, Credential, build_authorization, compute_ha1
from voice.sip.message import SipRequest, SipResponse, parse_message
from voice.sip.registrar import Registrar, RegistrarConfig

DOMAIN = "pbx.example"
SOURCE = ("203.0.113.7", 40123)
_cseq = itertools.count(1)


def _registrar(**overrides: object) -> tuple[FakeClock, Registrar]:
    clock = FakeClock(5000.0)
    config = RegistrarConfig(
        realm=DOMAIN,
        users={"1001": "s3cret", "1002": Credential(ha1={"MD5": compute_ha1("1002", DOMAIN, "x")})},
        domains=frozenset({DOMAIN}),
        secret=b"s" * 32,
        **overrides,  # type: ignore[arg-type]
    )
    return clock, Registrar(config, clock)


def _request(
    user: str = "1001",
    contacts: tuple[str, ...] = ("<sip:1001@192.168.1.20:5060>",),
    expires: int | None = 3600,
    authorization: str | None = None,
    call_id: str = "reg-1",
    cseq: int | None = None,
    extra: str = "",
) -> SipRequest:
    lines = [
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        f"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK{next(_cseq)}",
        f"From: <sip:{user}@{DOMAIN}>;tag=abc",
        f"To: <sip:{user}@{DOMAIN}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq if cseq is not None else next(_cseq)} REGISTER",
    ]
    lines += [f"Contact: {c}" for c in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    if extra:
        lines.append(extra)
    msg = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(msg, SipRequest)
    return msg


def _register(
    reg: Registrar,
    user: str = "1001",
    password: str = "s3cret",
    source: tuple[str, int] = SOURCE,
    auth_user: str | None = None,
    **kwargs: object,
) -> SipResponse:
    """The full dance: unauthenticated REGISTER, 401, REGISTER with credentials."""
    first = reg.on_register(_request(user, **kwargs), source)  # type: ignore[arg-type]
    assert first.status == 401, first
    challenge = first.headers.get_all("WWW-Authenticate")[0]
    header = build_authorization(
        challenge, "REGISTER", f"sip:{DOMAIN}", auth_user or user, password
    )
    return reg.on_register(_request(user, authorization=header, **kwargs), source)  # type: ignore[arg-type]


def test_challenge_then_200_with_contact_and_expires() -> None:
    _, reg = _registrar()
    first = reg.on_register(_request(), SOURCE)
    assert first.status == 401
    challenges = first.headers.get_all("WWW-Authenticate")
    assert len(challenges) == 2 and "SHA-256" in challenges[0] and "MD5" in challenges[1]
    assert first.to_tag  # RFC 3261 §8.2.6.2
    ok = _register(reg)
    assert ok.status == 200
    assert ok.headers.get_all("Contact") == ["<sip:1001@192.168.1.20:5060>;expires=3600"]
    assert ok.call_id == "reg-1" and ok.cseq[1] == "REGISTER"
    assert ok.headers.get("From") == f"<sip:1001@{DOMAIN}>;tag=abc"


async def test_async_handle() -> None:
    _, reg = _registrar()
    assert (await reg.handle(_request(), SOURCE)).status == 401


def test_lookup_returns_live_bindings_and_expiry_on_the_clock() -> None:
    clock, reg = _registrar()
    assert _register(reg, expires=120).status == 200
    (binding,) = reg.lookup(f"sip:1001@{DOMAIN.upper()}:5060;transport=udp")
    assert binding.contact == "sip:1001@192.168.1.20:5060"
    assert binding.source == SOURCE
    clock.advance(119)
    assert len(reg.lookup(f"sip:1001@{DOMAIN}")) == 1
    clock.advance(2)
    assert reg.lookup(f"sip:1001@{DOMAIN}") == []


def test_contact_expires_param_overrides_header() -> None:
    _, reg = _registrar()
    ok = _register(reg, contacts=("<sip:1001@10.0.0.1>;expires=600",), expires=3600)
    assert ok.headers.get_all("Contact") == ["<sip:1001@10.0.0.1>;expires=600"]


def test_expires_capped_at_max_and_default_when_absent() -> None:
    _, reg = _registrar(max_expires=1800, default_expires=900)
    assert (_register(reg, expires=99999).headers.get("Contact", "") or "").endswith("expires=1800")
    _, reg = _registrar(max_expires=1800, default_expires=900)
    assert (_register(reg, expires=None).headers.get("Contact", "") or "").endswith("expires=900")


def test_too_brief_gets_423_with_min_expires() -> None:
    _, reg = _registrar(min_expires=60)
    resp = _register(reg, expires=30)
    assert resp.status == 423 and resp.headers.get("Min-Expires") == "60"
    assert reg.lookup(f"sip:1001@{DOMAIN}") == []


def test_expires_zero_removes_one_contact() -> None:
    _, reg = _registrar()
    two = ("<sip:1001@10.0.0.1>", "<sip:1001@10.0.0.2>;q=0.5")
    assert len(_register(reg, contacts=two).headers.get_all("Contact")) == 2
    assert [b.contact for b in reg.lookup(f"sip:1001@{DOMAIN}")] == [
        "sip:1001@10.0.0.1",
        "sip:1001@10.0.0.2",
    ]
    resp = _register(reg, contacts=("<sip:1001@10.0.0.1>",), expires=0)
    assert resp.status == 200
    assert resp.headers.get_all("Contact") == ["<sip:1001@10.0.0.2>;expires=3600"]


def test_star_with_expires_zero_removes_all() -> None:
    _, reg = _registrar()
    _register(reg, contacts=("<sip:1001@10.0.0.1>", "<sip:1001@10.0.0.2>"))
    resp = _register(reg, contacts=("*",), expires=0)
    assert resp.status == 200 and resp.headers.get_all("Contact") == []
    assert reg.lookup(f"sip:1001@{DOMAIN}") == []


def test_star_without_expires_zero_is_400() -> None:
    _, reg = _registrar()
    assert _register(reg, contacts=("*",), expires=60).status == 400


def test_query_without_contact_lists_bindings() -> None:
    clock, reg = _registrar()
    _register(reg)
    clock.advance(100)
    resp = _register(reg, contacts=())
    assert resp.headers.get_all("Contact") == ["<sip:1001@192.168.1.20:5060>;expires=3500"]


def test_wrong_password_gets_403_not_another_401() -> None:
    _, reg = _registrar()
    resp = _register(reg, password="guess")
    assert resp.status == 403 and "WWW-Authenticate" not in resp.headers


def test_lockout_is_403_with_retry_after_even_for_the_right_password() -> None:
    _, reg = _registrar(policy=AuthPolicy(max_failures=5, lockout=300))
    for _ in range(5):
        assert _register(reg, password="guess").status == 403
    # The user is locked: the right password is refused too, with when to retry.
    resp = _register(reg, password="s3cret")
    assert resp.status == 403 and "locked out" in resp.reason
    assert resp.headers.get("Retry-After") == "300"


def test_source_lockout_refuses_credentials_from_there() -> None:
    # Was: 403 before any challenge. A challenge costs nothing and the lock now meets the
    # credentials, whose username tells a phone that registered from here lately (spared)
    # from everyone else (refused).
    _, reg = _registrar(policy=AuthPolicy(max_failures=50, source_max_failures=5, lockout=300))
    for _ in range(5):
        assert _register(reg, password="guess").status == 403
    resp = _register(reg, password="s3cret")
    assert resp.status == 403 and "locked" in resp.reason
    assert resp.headers.get("Retry-After") == "300"


def _challenge_to(reg: Registrar, source: tuple[str, int], user: str = "1001") -> str:
    first = reg.on_register(_request(user), source)
    assert first.status == 401, first
    return first.headers.get_all("WWW-Authenticate")[0]


def test_a_nonce_replayed_from_spoofed_sources_locks_nobody_out() -> None:
    clock, reg = _registrar(policy=AuthPolicy(max_failures=5, lockout=300))
    phone = ("198.51.100.20", 5060)
    assert _register(reg, source=phone).status == 200
    # An attacker who saw the phone's challenge (or its whole REGISTER) answers it with wrong
    # passwords from forged addresses: the nonce was sent to the phone, so from anywhere else
    # it is not ours, and each gets a fresh challenge, never a failure.
    sniffed = _challenge_to(reg, phone)
    for n in range(60):
        spoofed = (f"203.0.113.{n + 1}", 5060)
        guess = build_authorization(sniffed, "REGISTER", f"sip:{DOMAIN}", "1001", f"guess{n}")
        resp = reg.on_register(_request(authorization=guess), spoofed)
        assert resp.status == 401, (n, resp)
        clock.advance(1)
    assert _register(reg, source=phone).status == 200


def test_lockouts_from_real_addresses_spare_the_phones_own() -> None:
    # The default per-user ceiling (20 failures) is reached from seven addresses.
    _, reg = _registrar(policy=AuthPolicy(max_failures=3))
    phone = ("198.51.100.20", 5060)
    assert _register(reg, source=phone).status == 200
    for n in range(7):  # guessing from addresses the attacker really holds
        for _ in range(3):
            assert _register(reg, password="guess", source=(f"203.0.113.{n}", 5060)).status == 403
    locked = _register(reg, source=("203.0.113.99", 5060))  # right password, unknown address
    assert locked.status == 403 and "locked" in locked.reason
    assert _register(reg, source=phone).status == 200


def test_authenticated_user_cannot_register_another_aor() -> None:
    _, reg = _registrar()
    resp = _register(reg, user="1002", auth_user="1001", password="s3cret")
    assert resp.status == 403 and "AOR" in resp.reason
    assert reg.lookup(f"sip:1002@{DOMAIN}") == []


def test_precomputed_ha1_user_registers_with_md5() -> None:
    _, reg = _registrar()
    first = reg.on_register(_request("1002"), SOURCE)
    md5 = first.headers.get_all("WWW-Authenticate")[1]
    header = build_authorization(md5, "REGISTER", f"sip:{DOMAIN}", "1002", "x")
    assert reg.on_register(_request("1002", authorization=header), SOURCE).status == 200


def test_foreign_domain_is_404() -> None:
    _, reg = _registrar()
    req = _request()
    req.headers.set("To", "<sip:1001@elsewhere.example>")
    assert reg.on_register(req, SOURCE).status == 404


def test_require_gets_420() -> None:
    _, reg = _registrar()
    resp = reg.on_register(_request(extra="Require: gruu"), SOURCE)
    assert resp.status == 420 and resp.headers.get("Unsupported") == "gruu"


def test_out_of_order_cseq_on_same_call_id_is_refused() -> None:
    _, reg = _registrar()
    assert _register(reg, cseq=10).status == 200
    assert _register(reg, cseq=5).status == 500
    assert _register(reg, cseq=11).status == 200


def test_replayed_authorization_is_rechallenged_stale() -> None:
    _, reg = _registrar()
    first = reg.on_register(_request(), SOURCE)
    header = build_authorization(
        first.headers.get_all("WWW-Authenticate")[0], "REGISTER", f"sip:{DOMAIN}", "1001", "s3cret"
    )
    assert reg.on_register(_request(authorization=header), SOURCE).status == 200
    again = reg.on_register(_request(authorization=header), SOURCE)
    assert again.status == 401 and "stale=true" in again.headers.get_all("WWW-Authenticate")[0]


def test_expired_nonce_gets_stale_401() -> None:
    clock, reg = _registrar()
    first = reg.on_register(_request(), SOURCE)
    header = build_authorization(
        first.headers.get_all("WWW-Authenticate")[0], "REGISTER", f"sip:{DOMAIN}", "1001", "s3cret"
    )
    clock.advance(301)
    resp = reg.on_register(_request(authorization=header), SOURCE)
    assert resp.status == 401 and "stale=true" in (resp.headers.get("WWW-Authenticate") or "")


@pytest.mark.parametrize(
    "contact", ["<sip:1001@10.0.0.1>;expires=abc", "<sip:1001@10.0.0.1>;q=2", "<nocolon>"]
)
def test_bad_contact_is_400(contact: str) -> None:
    _, reg = _registrar()
    assert _register(reg, contacts=(contact,)).status == 400


def test_too_many_contacts_is_403() -> None:
    _, reg = _registrar(max_contacts=2)
    many = tuple(f"<sip:1001@10.0.0.{i}>" for i in range(3))
    assert _register(reg, contacts=many).status == 403
    assert reg.lookup(f"sip:1001@{DOMAIN}") == []  # nothing half-applied
    assert _register(reg, contacts=many[:2]).status == 200


def test_a_refused_request_changes_no_binding() -> None:
    _, reg = _registrar(min_expires=60)
    _register(reg, contacts=("<sip:1001@10.0.0.1>",))
    both = ("<sip:1001@10.0.0.1>;expires=0", "<sip:1001@10.0.0.2>;expires=5")
    assert _register(reg, contacts=both).status == 423
    assert [b.contact for b in reg.lookup(f"sip:1001@{DOMAIN}")] == ["sip:1001@10.0.0.1"]


def test_non_register_is_405() -> None:
    _, reg = _registrar()
    req = _request()
    req.method = "OPTIONS"
    assert reg.on_register(req, SOURCE).status == 405


# --- on a real server, over real UDP ----------------------------------------------------------


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


class _UdpPhone:
    """Raw REGISTERs from a socket bound to one loopback address (127.0.0.0/8 is all `lo`)."""

    def __init__(self, transport: asyncio.DatagramTransport, proto: _Datagrams) -> None:
        self.transport = transport
        self.proto = proto
        self.host, self.port = transport.get_extra_info("sockname")[:2]
        self.call_id = f"reg-{self.host}-{self.port}"

    @classmethod
    async def open(cls, host: str) -> _UdpPhone:
        transport, proto = await asyncio.get_running_loop().create_datagram_endpoint(
            _Datagrams, local_addr=(host, 0)
        )
        return cls(transport, proto)

    async def register(
        self, server: tuple[str, int], user: str, authorization: str | None = None
    ) -> SipResponse:
        lines = [
            f"REGISTER sip:{REALM_UDP} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK-{next(_cseq)};rport",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{REALM_UDP}>;tag=t{self.port}",
            f"To: <sip:{user}@{REALM_UDP}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {next(_cseq)} REGISTER",
            f"Contact: <sip:{user}@{self.host}:{self.port}>",
            "Expires: 600",
        ]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        self.transport.sendto(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode(),
                              server)  # fmt: skip
        while True:
            msg = parse_message(await asyncio.wait_for(self.proto.queue.get(), 10))
            if isinstance(msg, SipResponse) and msg.status >= 200:
                return msg

    async def sign_in(self, server: tuple[str, int], user: str, password: str) -> SipResponse:
        """REGISTER, 401, REGISTER answering the challenge."""
        challenge = await self.register(server, user)
        assert challenge.status == 401, challenge
        header = build_authorization(
            challenge.headers.get_all("WWW-Authenticate")[0], "REGISTER", f"sip:{REALM_UDP}",
            user, password,
        )  # fmt: skip
        return await self.register(server, user, header)

    def close(self) -> None:
        self.transport.close()


REALM_UDP = "centralita.test"


async def test_replayed_nonce_from_spoofed_udp_sources_locks_nobody_out(
    server_factory: ServerFactory,
) -> None:
    registrar = {"realm": REALM_UDP, "users": {"alice": "secret"}, "algorithms": ["MD5"]}
    server = await server_factory(ServerOptions(config={"registrar": registrar}, tls=False))
    host, port = server.sip_target.rsplit(":", 1)
    target = (host, int(port))
    phone = await _UdpPhone.open("127.0.0.1")
    spoofers = [await _UdpPhone.open(h) for h in ("127.0.0.2", "127.0.0.3")]
    try:
        assert (await phone.sign_in(target, "alice", "secret")).status == 200
        # The nonce of a challenge sent to the phone, as an on-path listener would see it.
        sniffed = (await phone.register(target, "alice")).headers.get_all("WWW-Authenticate")[0]
        for n in range(12):
            for spoofer in spoofers:
                guess = build_authorization(
                    sniffed, "REGISTER", f"sip:{REALM_UDP}", "alice", f"guess-{n}"
                )
                resp = await spoofer.register(target, "alice", guess)
                # Not our nonce from there: a fresh challenge, never a counted failure (403).
                assert resp.status == 401, (spoofer.host, n, resp)
        assert (await phone.sign_in(target, "alice", "secret")).status == 200
    finally:
        phone.close()
        for spoofer in spoofers:
            spoofer.close()
