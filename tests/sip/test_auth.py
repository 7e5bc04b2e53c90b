"""Digest auth: known answers, the auth-param parser, nonces, replay and lockout."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.clock import FakeClock
from voice.sip.auth import (
    AuthPolicy,
    Credential,
    DigestAuthenticator,
    StaticCredentials,
    Verdict,
    build_authorization,
    compute_ha1,
    compute_response,
    format_params,
    parse_auth_params,
    parse_challenge_header,
)
from voice.sip.errors import AuthError, SipParseError

REALM = "pbx.example"
URI = "sip:pbx.example"


# --- known answers -----------------------------------------------------------------------------


def test_rfc2617_section_3_5_example() -> None:
    ha1 = compute_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = compute_response(
        ha1=ha1,
        algorithm="MD5",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1_examples(algorithm: str, expected: str) -> None:
    ha1 = compute_ha1("Mufasa", "http-auth@example.org", "Circle of Life", algorithm)
    response = compute_response(
        ha1=ha1,
        algorithm=algorithm,
        method="GET",
        uri="/dir/index.html",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop="auth",
        nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert response == expected


def test_rfc2069_style_without_qop() -> None:
    ha1 = compute_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    ha2 = hashlib.md5(b"GET:/dir/index.html").hexdigest()
    nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    expected = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    response = compute_response(
        ha1=ha1, algorithm="MD5", method="GET", uri="/dir/index.html", nonce=nonce
    )
    assert response == expected


# --- the auth-param parser -----------------------------------------------------------------


def test_parser_handles_quoted_commas_and_escapes() -> None:
    params = parse_auth_params(
        'realm="a, b", nonce="x\\"y", algorithm=MD5 ,  qop="auth,auth-int",, opaque=""'
    )
    assert params == {
        "realm": "a, b",
        "nonce": 'x"y',
        "algorithm": "MD5",
        "qop": "auth,auth-int",
        "opaque": "",
    }


def test_parser_lowercases_names() -> None:
    assert parse_auth_params("ReAlM=x") == {"realm": "x"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('realm="abc', "unterminated"),
        ("realm", "expected '='"),
        ("=x", "expected a name"),
        ("realm=", "empty value"),
        ('realm="a" nonce="b"', "expected ','"),
        ("realm=a, realm=b", "duplicate"),
        ('realm="a\nb"', "line break"),
    ],
)
def test_parser_errors_say_what(text: str, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse_auth_params(text)


_AUTHISH = st.text(alphabet='ab=", \\\t\nD')


@given(st.one_of(st.text(), _AUTHISH))
def test_parser_raises_only_sip_parse_error(text: str) -> None:
    with contextlib.suppress(SipParseError):
        parse_auth_params(text)


@given(st.text())
def test_challenge_header_raises_only_sip_parse_error(text: str) -> None:
    with contextlib.suppress(SipParseError):
        parse_challenge_header(text)


_names = st.from_regex(r"[a-z][a-z0-9\-]{0,10}", fullmatch=True)
_values = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]))


@given(st.dictionaries(_names, _values, max_size=8))
def test_format_then_parse_round_trips(params: dict[str, str]) -> None:
    params = {k: v for k, v in params.items() if v}  # an empty bare token isn't writable
    scheme, parsed = parse_challenge_header(format_params("Digest", params))
    assert scheme == "Digest"
    assert parsed == params


# --- client side -----------------------------------------------------------------------------


def _clock_and_auth(**policy: float) -> tuple[FakeClock, DigestAuthenticator]:
    clock = FakeClock(1000.0)
    store = StaticCredentials(
        {
            "1001": "s3cret",
            "1002": Credential(ha1={"MD5": compute_ha1("1002", REALM, "pw2", "MD5")}),
        }
    )
    pol = AuthPolicy(**policy)  # type: ignore[arg-type]
    return clock, DigestAuthenticator(REALM, store, clock, secret=b"k" * 32, policy=pol)


def _answer(
    auth: DigestAuthenticator, user: str, password: str, index: int = 0, source: str = "ip"
) -> str:
    """Credentials answering a challenge sent to `source`."""
    return build_authorization(auth.challenges(source)[index], "REGISTER", URI, user, password)


def _verdict(auth: DigestAuthenticator, user: str, password: str, source: str) -> Verdict:
    """Challenge `source`, answer it from there: the verdict."""
    return auth.verify(_answer(auth, user, password, source=source), "REGISTER", source).verdict


def test_challenges_offer_sha256_first_then_md5() -> None:
    _, auth = _clock_and_auth()
    values = auth.challenges("ip")
    assert len(values) == 2
    first, second = (parse_challenge_header(v)[1] for v in values)
    assert first["algorithm"] == "SHA-256" and second["algorithm"] == "MD5"
    assert first["qop"] == "auth" and 'qop="auth"' in values[0]
    assert first["realm"] == REALM and first["nonce"] == second["nonce"]
    assert "stale" not in first
    assert parse_challenge_header(auth.challenges("ip", stale=True)[0])[1]["stale"] == "true"


def test_build_authorization_without_qop_and_with_opaque() -> None:
    header = build_authorization(
        'Digest realm="r", nonce="n", opaque="o"', "INVITE", "sip:x@y", "u", "p"
    )
    _, p = parse_challenge_header(header)
    assert "qop" not in p and "nc" not in p and p["opaque"] == "o"
    expected = compute_response(
        ha1=compute_ha1("u", "r", "p"), algorithm="MD5", method="INVITE", uri="sip:x@y", nonce="n"
    )
    assert p["response"] == expected


def test_build_authorization_auth_int_hashes_body() -> None:
    header = build_authorization(
        'Digest realm="r", nonce="n", qop="auth-int"', "INVITE", "sip:x@y", "u", "p", b"v=0"
    )
    _, p = parse_challenge_header(header)
    expected = compute_response(
        ha1=compute_ha1("u", "r", "p"),
        algorithm="MD5",
        method="INVITE",
        uri="sip:x@y",
        nonce="n",
        qop="auth-int",
        nc=p["nc"],
        cnonce=p["cnonce"],
        body=b"v=0",
    )
    assert p["qop"] == "auth-int" and p["response"] == expected


@pytest.mark.parametrize(
    "challenge",
    ['Basic realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-512', 'Digest nonce="n"'],
)
def test_build_authorization_refuses_what_it_cannot_answer(challenge: str) -> None:
    with pytest.raises(AuthError):
        build_authorization(challenge, "REGISTER", URI, "u", "p")


# --- server side ---------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1])
def test_right_password_passes_with_either_algorithm(index: int) -> None:
    _, auth = _clock_and_auth()
    header = _answer(auth, "1001", "s3cret", index, source="10.0.0.1")
    result = auth.verify(header, "REGISTER", "10.0.0.1")
    assert result.verdict is Verdict.OK and result.username == "1001"


def test_precomputed_ha1_works_for_its_algorithm_only() -> None:
    _, auth = _clock_and_auth()
    assert auth.verify(_answer(auth, "1002", "pw2", 1), "REGISTER", "ip").verdict is Verdict.OK
    # No SHA-256 HA1 and no password: SHA-256 credentials can't be checked.
    assert auth.verify(_answer(auth, "1002", "pw2", 0), "REGISTER", "ip").verdict is Verdict.FAILED


def test_missing_or_foreign_realm_credentials_get_a_challenge() -> None:
    _, auth = _clock_and_auth()
    assert auth.verify(None, "REGISTER", "ip").verdict is Verdict.CHALLENGE
    other = 'Digest username="1001", realm="elsewhere", nonce="n", uri="x", response="r"'
    assert auth.verify(other, "REGISTER", "ip").verdict is Verdict.CHALLENGE


def test_wrong_password_fails() -> None:
    _, auth = _clock_and_auth()
    result = auth.verify(_answer(auth, "1001", "guess"), "REGISTER", "ip")
    assert result.verdict is Verdict.FAILED


def test_unknown_user_fails_like_a_wrong_password() -> None:
    _, auth = _clock_and_auth()
    assert auth.verify(_answer(auth, "nobody", "x"), "REGISTER", "ip").verdict is Verdict.FAILED


def test_forged_nonce_is_rechallenged() -> None:
    _, auth = _clock_and_auth()
    header = build_authorization(
        f'Digest realm="{REALM}", nonce="forged", qop="auth"', "REGISTER", URI, "1001", "s3cret"
    )
    assert auth.verify(header, "REGISTER", "ip").verdict is Verdict.CHALLENGE


def test_nonce_from_another_secret_is_rechallenged() -> None:
    clock, auth = _clock_and_auth()
    other = DigestAuthenticator(REALM, StaticCredentials({}), clock, secret=b"z" * 32)
    header = build_authorization(other.challenges("ip")[0], "REGISTER", URI, "1001", "s3cret")
    assert auth.verify(header, "REGISTER", "ip").verdict is Verdict.CHALLENGE


def test_nonce_sent_to_another_address_is_not_ours() -> None:
    _, auth = _clock_and_auth()
    header = _answer(auth, "1001", "s3cret", source="192.0.2.10")
    # Right password, but the nonce went to 192.0.2.10: from anywhere else, a new challenge.
    assert auth.verify(header, "REGISTER", "192.0.2.11").verdict is Verdict.CHALLENGE
    assert auth.verify(header, "REGISTER", "192.0.2.10").verdict is Verdict.OK


def test_expired_nonce_is_stale_whatever_the_password() -> None:
    # Was: stale with the right password, FAILED with a wrong one. Now expiry is judged
    # before the password and counts nothing: an answer that differed would be a guessing
    # oracle, and a failure would let an old nonce spend a phone's failures.
    clock, auth = _clock_and_auth(nonce_ttl=300, max_failures=1)
    good = _answer(auth, "1001", "s3cret")
    bad = _answer(auth, "1001", "guess")
    clock.advance(301)
    assert auth.verify(good, "REGISTER", "ip").verdict is Verdict.STALE
    assert auth.verify(bad, "REGISTER", "ip").verdict is Verdict.STALE
    assert _verdict(auth, "1001", "s3cret", "ip") is Verdict.OK  # nothing was counted


def test_nonce_within_ttl_is_accepted() -> None:
    clock, auth = _clock_and_auth(nonce_ttl=300)
    good = _answer(auth, "1001", "s3cret")
    clock.advance(299)
    assert auth.verify(good, "REGISTER", "ip").verdict is Verdict.OK


def test_replayed_nonce_count_is_refused() -> None:
    _, auth = _clock_and_auth()
    header = _answer(auth, "1001", "s3cret")
    assert auth.verify(header, "REGISTER", "ip").verdict is Verdict.OK
    assert auth.verify(header, "REGISTER", "ip").verdict is Verdict.STALE


def test_replayed_nonce_count_with_a_wrong_response_counts_no_failure() -> None:
    _, auth = _clock_and_auth(max_failures=1)
    _, ch = parse_challenge_header(auth.challenges("ip")[1])
    ha1 = compute_ha1("1001", REALM, "s3cret")

    def header(nc: str, response: str | None = None) -> str:
        response = response or compute_response(
            ha1=ha1, algorithm="MD5", method="REGISTER", uri=URI, nonce=ch["nonce"],
            qop="auth", nc=nc, cnonce="c",
        )  # fmt: skip
        return format_params(
            "Digest",
            {"username": "1001", "realm": REALM, "nonce": ch["nonce"], "uri": URI,
             "response": response, "qop": "auth", "nc": nc, "cnonce": "c"},
        )  # fmt: skip

    assert auth.verify(header("00000002"), "REGISTER", "ip").verdict is Verdict.OK
    for _ in range(5):
        replay = header("00000001", "0" * 32)
        assert auth.verify(replay, "REGISTER", "ip").verdict is Verdict.STALE
    assert auth.verify(header("00000003"), "REGISTER", "ip").verdict is Verdict.OK


def test_increasing_nonce_count_is_accepted() -> None:
    _, auth = _clock_and_auth()
    _, ch = parse_challenge_header(auth.challenges("ip")[1])
    ha1 = compute_ha1("1001", REALM, "s3cret")
    for nc in ("00000001", "00000002", "0000000a"):
        response = compute_response(
            ha1=ha1, algorithm="MD5", method="REGISTER", uri=URI, nonce=ch["nonce"],
            qop="auth", nc=nc, cnonce="c",
        )  # fmt: skip
        header = format_params(
            "Digest",
            {"username": "1001", "realm": REALM, "nonce": ch["nonce"], "uri": URI,
             "response": response, "qop": "auth", "nc": nc, "cnonce": "c"},
        )  # fmt: skip
        assert auth.verify(header, "REGISTER", "ip").verdict is Verdict.OK


@pytest.mark.parametrize(
    "header",
    [
        'Digest realm="pbx.example", nonce="n", uri="x", response="r"',  # no username
        'Digest username="1001", realm="pbx.example", nonce="n", uri="x", response="r"',  # no qop
        'Digest username="1001", realm="pbx.example, nonce="n"',  # unterminated
    ],
)
def test_malformed_credentials(header: str) -> None:
    _, auth = _clock_and_auth()
    assert auth.verify(header, "REGISTER", "ip").verdict is Verdict.MALFORMED


def test_request_uri_check_when_asked() -> None:
    _, auth = _clock_and_auth()
    header = _answer(auth, "1001", "s3cret")
    result = auth.verify(header, "REGISTER", "ip", request_uri="sip:other.example")
    assert result.verdict is Verdict.MALFORMED


# --- lockout -----------------------------------------------------------------------------------


def test_lockout_after_five_failures_refuses_even_the_right_password() -> None:
    clock, auth = _clock_and_auth(max_failures=5, failure_window=60, lockout=300)
    for _ in range(5):
        assert _verdict(auth, "1001", "x", "1.1.1.1") is Verdict.FAILED
        clock.advance(5)
    result = auth.verify(_answer(auth, "1001", "s3cret", source="1.1.1.1"), "REGISTER", "1.1.1.1")
    assert result.verdict is Verdict.LOCKED
    assert result.retry_after is not None and 0 < result.retry_after <= 300
    # Was: the username locked from every address. Now the (user, source) pair is locked,
    # and another address is free until the higher per-user ceiling.
    assert _verdict(auth, "1001", "s3cret", "2.2.2.2") is Verdict.OK
    clock.advance(301)
    assert _verdict(auth, "1001", "s3cret", "1.1.1.1") is Verdict.OK


def test_repeated_lockouts_of_a_pair_grow() -> None:
    clock, auth = _clock_and_auth(max_failures=2, lockout=100)
    waits = []
    for _ in range(3):
        for _ in range(2):
            assert _verdict(auth, "1001", "x", "1.1.1.1") is Verdict.FAILED
        result = auth.verify(_answer(auth, "1001", "x", source="1.1.1.1"), "REGISTER", "1.1.1.1")
        assert result.verdict is Verdict.LOCKED and result.retry_after is not None
        waits.append(result.retry_after)
        clock.advance(result.retry_after)
    assert waits == [100, 200, 400]


def test_user_ceiling_spares_the_phones_own_address() -> None:
    _, auth = _clock_and_auth(max_failures=3, user_max_failures=6, source_max_failures=100)
    assert _verdict(auth, "1001", "s3cret", "10.0.0.5") is Verdict.OK  # the phone
    for source in ("6.6.6.1", "6.6.6.2"):
        for _ in range(3):
            assert _verdict(auth, "1001", "x", source) is Verdict.FAILED
    assert _verdict(auth, "1001", "s3cret", "6.6.6.3") is Verdict.LOCKED
    assert _verdict(auth, "1001", "s3cret", "10.0.0.5") is Verdict.OK


def test_lockout_per_source_ip_across_usernames() -> None:
    _, auth = _clock_and_auth(max_failures=5, source_max_failures=8)
    for i in range(7):
        assert _verdict(auth, f"user{i}", "x", "6.6.6.6") is Verdict.FAILED
    # Seven failures spread over users: colleagues behind the same NAT still get in.
    assert _verdict(auth, "1001", "s3cret", "6.6.6.6") is Verdict.OK
    assert _verdict(auth, "user8", "x", "6.6.6.6") is Verdict.FAILED
    # Was: LOCKED even without credentials. Now a challenge (it costs nothing) and the
    # credentials meet the lock, which spares pairs that registered from here lately.
    assert auth.verify(None, "REGISTER", "6.6.6.6").verdict is Verdict.CHALLENGE
    assert _verdict(auth, "1002", "pw2", "6.6.6.6") is Verdict.LOCKED
    assert _verdict(auth, "1001", "s3cret", "6.6.6.6") is Verdict.OK
    assert _verdict(auth, "1002", "pw2", "7.7.7.7") is Verdict.FAILED  # MD5 HA1 only


def test_failures_outside_the_window_do_not_lock() -> None:
    clock, auth = _clock_and_auth(max_failures=5, failure_window=60)
    for _ in range(10):
        _verdict(auth, "1001", "x", "1.1.1.1")
        clock.advance(16)  # at most 4 failures in any 60 s
    assert _verdict(auth, "1001", "s3cret", "1.1.1.1") is Verdict.OK


def test_success_clears_the_pairs_failures() -> None:
    _, auth = _clock_and_auth(max_failures=3)
    for _ in range(2):
        _verdict(auth, "1001", "x", "1.1.1.1")
    assert _verdict(auth, "1001", "s3cret", "1.1.1.1") is Verdict.OK
    for _ in range(2):
        _verdict(auth, "1001", "x", "1.1.1.1")
    assert _verdict(auth, "1001", "s3cret", "1.1.1.1") is Verdict.OK


def test_failure_tracking_is_bounded() -> None:
    _, auth = _clock_and_auth(max_tracked=100, max_failures=1000)
    for i in range(1000):
        _verdict(auth, f"u{i}", "x", f"10.0.{i // 250}.{i % 250}")
    gate = auth._lockouts
    assert len(gate._pairs) <= 100 and len(gate._users) <= 100 and len(gate._sources) <= 100


def test_credential_repr_hides_secrets() -> None:
    assert "s3cret" not in repr(Credential(password="s3cret"))
