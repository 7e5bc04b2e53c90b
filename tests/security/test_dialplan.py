"""The outbound dial plan and trusted sources (issue 17, finding 1: toll fraud).

The plan is pure logic over phonenumbers' metadata, so it is tested directly: what a default
plan dials (the default region's fixed, mobile and free numbers), what it refuses (premium
rate, shared cost, UAN, personal numbers, short codes, other countries, anything that is not
a plain number), what `allow`/`deny`/`types`/`countries` change, how SIP URIs are treated
(the trunk's host is a number; another host is the operator's), who may make it dial
(trusted calls only), and that no refusal names the number. Then the config keys, and
which sources `voice.trust` trusts, with a real registrar and real digest answers."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from centralita.settings import ConfigError, load_settings
from media.clock import FakeClock
from tests.ivr.media.fakes import FakeLeg
from voice.call import Call, Direction
from voice.dialplan import (
    NOT_A_NUMBER_URI,
    UNTRUSTED,
    DialPlan,
    DialPlanConfigError,
    DialRefused,
    parse_dialplan,
)
from voice.sip.auth import build_authorization
from voice.sip.message import SipRequest, parse_message
from voice.sip.registrar import Registrar, RegistrarConfig
from voice.trust import RegisteredSources, TrustConfigError, TrustedSources, parse_sources

TRUNK = "127.0.0.1:5080"


def refusal(plan: DialPlan, number: str) -> str:
    with pytest.raises(DialRefused) as caught:
        plan.check_number(number)
    reason = caught.value.reason
    digits = "".join(c for c in number if c.isdigit())
    # Personal data stays out of the reason (it is logged and stored on the case).
    assert digits[-6:] not in reason, reason
    return reason


def call(trusted_by: str | None) -> Call:
    return Call("c1", Direction.INBOUND, FakeLeg(), caller="+34612345678",
                trusted_by=trusted_by)


# -- numbers --------------------------------------------------------------------------------
@pytest.mark.parametrize("written", [
    "612345678", "+34612345678", "0034612345678", "+34 612 34 56 78", "612-345-678",
    "612 (345) 678",
])
def test_a_spanish_mobile_is_allowed_however_it_is_written(written: str) -> None:
    assert DialPlan().check_number(written) == "+34612345678"


def test_spanish_fixed_and_free_numbers_are_allowed() -> None:
    plan = DialPlan()
    assert plan.check_number("912345678") == "+34912345678"
    assert plan.check_number("900123456") == "+34900123456"


@pytest.mark.parametrize("number", ["803123456", "806123456", "807123456", "+34806123456"])
def test_spanish_premium_rate_is_refused(number: str) -> None:
    assert "premium-rate" in refusal(DialPlan(), number)


@pytest.mark.parametrize(("number", "kind"), [
    ("901123456", "shared-cost"), ("902123456", "shared-cost"), ("511234567", "uan"),
    ("704123456", "personal-number"),
])
def test_other_costly_spanish_ranges_are_refused(number: str, kind: str) -> None:
    assert kind in refusal(DialPlan(), number)


@pytest.mark.parametrize("number", [
    "+9005551234",       # the report's number: +90 (Turkey), no valid number at all
    "+909001234567",     # Turkish premium rate
    "+902125551234",     # a valid Istanbul fixed line: still another country
    "+33612345678", "+442079460000", "+12025550123", "00442079460000",
])
def test_international_numbers_are_refused_by_default(number: str) -> None:
    reason = refusal(DialPlan(), number)
    assert any(why in reason for why in ("another country", "not a valid number", "premium"))


@pytest.mark.parametrize("text", [
    "alice", "612345678;ext=1", "6123A5678", "612345678#", "*612345678", "112", "016",
    "118118", "", "+", "+34 612345678, 1", "tel:+34612345678", "6" * 41,
])
def test_what_is_not_a_plain_national_number_is_refused(text: str) -> None:
    with pytest.raises(DialRefused):
        DialPlan().check_number(text)


def test_the_allow_list_opens_exactly_what_it_names() -> None:
    plan = DialPlan(parse_dialplan({"allow": ["+4420", r"\+336\d{8}"]}, "t"))
    assert plan.check_number("+442079460000") == "+442079460000"  # London, by prefix
    assert plan.check_number("+33612345678") == "+33612345678"  # French mobile, by regex
    assert "another country" in refusal(plan, "+441612345678")  # Manchester: not listed
    assert "another country" in refusal(plan, "+33123456789")  # Paris fixed: not the regex
    # Allowing a country's numbers never allows its premium ranges.
    premium = DialPlan(parse_dialplan({"allow": ["+44"]}, "t"))
    assert "premium-rate" in refusal(premium, "+449098790000")


def test_deny_is_checked_first_and_types_and_countries_replace_the_defaults() -> None:
    plan = DialPlan(parse_dialplan({"deny": ["+3491"], "allow": ["+3491"]}, "t"))
    assert "deny list" in refusal(plan, "912345678")
    assert plan.check_number("612345678") == "+34612345678"
    mobiles = DialPlan(parse_dialplan({"types": ["mobile"], "countries": ["ES", "pt"]}, "t"))
    assert mobiles.check_number("+351912345678") == "+351912345678"
    assert "fixed-line" in refusal(mobiles, "912345678")
    nowhere = DialPlan(parse_dialplan({"countries": []}, "t"))
    assert "another country" in refusal(nowhere, "612345678")


def test_another_default_region_reads_national_numbers_its_way() -> None:
    plan = DialPlan(region="GB")
    assert plan.check_number("020 7946 0000") == "+442079460000"
    assert "another country" in refusal(plan, "+34612345678")


# -- targets --------------------------------------------------------------------------------
def test_route_sends_numbers_to_the_trunk_in_e164_and_only_for_trusted_calls() -> None:
    plan = DialPlan(trunk=TRUNK)
    assert plan.route("612345678", call=call("trunk")) == f"sip:+34612345678@{TRUNK}"
    assert plan.route("612345678") == f"sip:+34612345678@{TRUNK}"  # the operator's own
    with pytest.raises(DialRefused) as caught:
        plan.route("612345678", call=call(None))
    assert caught.value.reason == UNTRUSTED
    with pytest.raises(DialRefused, match="trunk"):
        DialPlan().route("612345678")


def test_a_sip_uri_at_the_trunk_is_a_number_and_elsewhere_the_operators() -> None:
    plan = DialPlan(trunk=TRUNK)
    with pytest.raises(DialRefused, match="another country|not a valid"):
        plan.route(f"sip:+9005551234@{TRUNK}", call=call("trunk"))
    with pytest.raises(DialRefused, match="premium"):
        plan.route("sips:806123456@127.0.0.1:5080;user=phone")
    assert plan.route("sip:+34612345678@127.0.0.1:5080") == f"sip:+34612345678@{TRUNK}"
    # Another port or host is not the trunk: an agent's phone, a PBX the flow names.
    desk = "sip:+9005551234@127.0.0.1:5099"
    assert plan.route(desk, call=call(None)) == desk
    on_5060 = DialPlan(trunk="Trunk.Example")
    with pytest.raises(DialRefused):
        on_5060.route("sip:+9005551234@trunk.example:5060")


def test_callbacks_need_a_trusted_call_and_a_number() -> None:
    plan = DialPlan(trunk=TRUNK)
    assert plan.callback_refusal(call("trunk"), "612345678") is None
    assert plan.callback_refusal(call("registration"), None) is None
    assert plan.callback_refusal(call(None), None) == UNTRUSTED
    assert plan.callback_refusal(call(None), "612345678") == UNTRUSTED
    assert plan.callback_refusal(call("trunk"), f"sip:attacker@{TRUNK}") == NOT_A_NUMBER_URI
    assert plan.callback_refusal(None, "+9005551234") is not None  # a stored one
    with pytest.raises(DialRefused):
        plan.customer_uri("sip:+34612345678@127.0.0.1:5099")


# -- config ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("section", "message"), [
    ({"allow": ["+34", "(unclosed"]}, "t.allow[1]: '(unclosed' is neither"),
    ({"types": ["mobile", "premium"]}, "t.types[1]: 'premium' is not a number type"),
    ({"countries": ["XX"]}, "t.countries[0]: must be a two-letter country code"),
    ({"deny": "+3480"}, "t.deny must be a list of text"),
    ({"prefixes": []}, "t: unknown key 'prefixes'"),
])
def test_a_wrong_dialplan_section_says_what_and_where(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(DialPlanConfigError, match=message.replace("[", r"\[").replace(
            "(", r"\(")):
        parse_dialplan(section, "t")


def test_settings_defaults_and_the_config_keys(tmp_path: Path) -> None:
    defaults = load_settings(None, {})
    assert defaults.default_region == "ES"
    # The embedded demo trusts loopback; a config file can take that away.
    assert ipaddress.ip_network("127.0.0.0/8") in defaults.trusted_sources
    cfg = tmp_path / "c.yaml"
    cfg.write_text("default_region: pt\ntrusted_sources: []\n"
                   "dialplan: {allow: ['+3491'], types: [mobile]}\n")
    s = load_settings(cfg, {})
    assert (s.default_region, s.trusted_sources) == ("PT", ())
    assert s.dialplan.types == frozenset({"mobile"})
    cfg.write_text("trusted_sources: ['10.0.0.1/8']\n")
    with pytest.raises(ConfigError, match=r"trusted_sources\[0\]: .*has host bits set"):
        load_settings(cfg, {})
    cfg.write_text("trusted_sources: [trunk.example.com]\n")
    with pytest.raises(ConfigError, match="host names are not accepted"):
        load_settings(cfg, {})
    cfg.write_text("default_region: Spain\n")
    with pytest.raises(ConfigError, match="default_region: must be a two-letter"):
        load_settings(cfg, {})


# -- trusted sources ------------------------------------------------------------------------
def test_trunk_networks_are_trusted_by_address() -> None:
    trust = TrustedSources(parse_sources(["203.0.113.0/24", "2001:db8::/32"], "t"))
    assert trust.trust_of("203.0.113.7", "+34612345678") == "trunk"
    assert trust.trust_of("::ffff:203.0.113.7", "x") == "trunk"  # dual-stack socket
    assert trust.trust_of("2001:db8::5", "x") == "trunk"
    assert trust.trust_of("198.51.100.7", "x") is None
    assert trust.trust_of("not-an-address", "x") is None
    with pytest.raises(TrustConfigError):
        parse_sources("10.0.0.0/8", "t")


def _register(user: str, password: str, registrar: RegisteredSources,
              source: tuple[str, int]) -> int:
    """REGISTER as `user` from `source`, answering the digest challenge; the final status."""
    def request(cseq: int, auth: str | None) -> SipRequest:
        lines = [
            "REGISTER sip:127.0.0.1 SIP/2.0",
            f"Via: SIP/2.0/UDP {source[0]}:{source[1]};branch=z9hG4bK{user}{cseq}",
            f"From: <sip:{user}@127.0.0.1>;tag=a1", f"To: <sip:{user}@127.0.0.1>",
            f"Call-ID: reg-{user}", f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{user}@{source[0]}:{source[1]}>", "Expires: 600",
        ] + ([f"Authorization: {auth}"] if auth else [])
        msg = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
        assert isinstance(msg, SipRequest)
        return msg

    challenge = registrar.on_register(request(1, None), source)
    assert challenge.status == 401
    auth = build_authorization(challenge.headers.get_all("WWW-Authenticate")[0], "REGISTER",
                               "sip:127.0.0.1", user, password)
    return registrar.on_register(request(2, auth), source).status


def test_a_registered_phone_is_trusted_from_where_it_registered_only() -> None:
    registrar = Registrar(RegistrarConfig(realm="centralita", users={"alice": "s3cret"}),
                          FakeClock())
    registrations = RegisteredSources(registrar)
    trust = TrustedSources((), registrations)
    assert trust.trust_of("192.0.2.10", "alice") is None
    assert _register("alice", "s3cret", registrations, ("192.0.2.10", 5062)) == 200
    assert trust.trust_of("192.0.2.10", "alice") == "registration"
    assert trust.trust_of("192.0.2.11", "alice") is None  # another address
    assert trust.trust_of("192.0.2.10", "bob") is None  # another From user
    assert _register("bob", "guess", registrations, ("192.0.2.12", 5062)) == 403
    assert trust.trust_of("192.0.2.12", "bob") is None
