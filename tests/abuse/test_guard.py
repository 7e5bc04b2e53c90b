"""`voice.sip.abuse.SourceGuard` on a fake clock: scanner user agents, the per-source token
bucket and its ban, health checkers' OPTIONS, exempt trunks, the bounded table, the config."""

from __future__ import annotations

import ipaddress

import pytest

from voice.sip.abuse import AbuseConfigError, AbuseSettings, SourceGuard, parse_abuse


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t


def guard(clock: FakeClock, **kw: object) -> SourceGuard:
    exempt = kw.pop("exempt", ())
    settings = AbuseSettings(**kw)  # type: ignore[arg-type]
    return SourceGuard(settings, clock.now, exempt=exempt)  # type: ignore[arg-type]


@pytest.mark.parametrize("agent", [
    "friendly-scanner", "sipvicious 0.3.4", "sipcli/v1.8", "VaxSIPUserAgent/3.1", "sip-scan",
    "iWar", "sundayddr", "Friendly-Scanner", "x/iwar",
])
def test_known_scanner_agents_are_dropped_and_banned(agent: str) -> None:
    clock = FakeClock()
    g = guard(clock)
    assert not g.admit("OPTIONS", "198.51.100.7", agent)
    assert g.counters["abuse_dropped_scanner"] == 1 and g.counters["abuse_bans"] == 1
    # Everything from there is dropped before parsing, until the ban ends.
    assert g.blocked("198.51.100.7")
    clock.t += 599
    assert g.blocked("198.51.100.7")
    clock.t += 2
    assert not g.blocked("198.51.100.7")
    assert g.counters["abuse_dropped_banned"] == 2


@pytest.mark.parametrize("agent", ["Yealink SIP-T46S", "PJSUA v2.15", "Kiwari phone", "", None,
                                   "Linphone/5.2 (belle-sip)", "Asterisk PBX 20"])
def test_real_phones_pass(agent: str | None) -> None:
    g = guard(FakeClock())
    assert g.admit("INVITE", "198.51.100.7", agent)
    assert not g.blocked("198.51.100.7")
    assert g.counters["abuse_bans"] == 0


def test_invite_register_rate_then_ban_then_recovery() -> None:
    clock = FakeClock()
    g = guard(clock, rate=2.0, burst=5, ban_seconds=60.0)
    admitted = [g.admit("INVITE" if i % 2 else "REGISTER", "203.0.113.9", "PBX") for i in range(8)]
    assert admitted == [True] * 5 + [False] * 3
    assert g.counters["abuse_dropped_rate"] == 1  # the first over the limit bans ...
    assert g.counters["abuse_bans"] == 1
    assert g.blocked("203.0.113.9") and g.banned_now == 1
    # ... another source is untouched.
    assert g.admit("INVITE", "203.0.113.10", "PBX")
    clock.t += 61
    assert not g.blocked("203.0.113.9") and g.banned_now == 0
    assert g.admit("INVITE", "203.0.113.9", "PBX")


def test_the_bucket_refills_at_the_rate() -> None:
    clock = FakeClock()
    g = guard(clock, rate=10.0, burst=1)
    for _ in range(50):  # 10 a second is fine forever
        assert g.admit("INVITE", "203.0.113.9", None)
        clock.t += 0.1
    assert g.counters["abuse_bans"] == 0


def test_other_methods_cost_nothing() -> None:
    g = guard(FakeClock(), burst=1)
    for _ in range(100):
        assert g.admit("OPTIONS", "203.0.113.9", "Kamailio")
        assert g.admit("MESSAGE", "203.0.113.9", "Kamailio")
    assert g.admit("INVITE", "203.0.113.9", "Kamailio")


def test_health_checkers_options_always_answered() -> None:
    clock = FakeClock()
    g = guard(clock, burst=1, health_checkers=(ipaddress.ip_network("10.0.0.0/24"),))
    assert g.admit("OPTIONS", "10.0.0.5", "friendly-scanner")
    assert g.admit("INVITE", "10.0.0.5", None)
    assert not g.admit("INVITE", "10.0.0.5", None)  # limited like anyone else ...
    assert not g.blocked("10.0.0.5")                # ... but never banned
    assert g.admit("OPTIONS", "10.0.0.5", None)
    # Anyone else's OPTIONS with a scanner's name is not.
    assert not g.admit("OPTIONS", "10.0.1.5", "friendly-scanner")


def test_exempt_trunks_are_never_limited_nor_banned() -> None:
    g = guard(FakeClock(), burst=1, exempt=(ipaddress.ip_network("192.0.2.0/24"),))
    assert all(g.admit("INVITE", "192.0.2.1", "Carrier SBC") for _ in range(1000))
    assert not g.admit("INVITE", "192.0.2.1", "sipvicious")  # dropped, not banned
    assert not g.blocked("192.0.2.1")
    assert g.admit("INVITE", "::ffff:192.0.2.1", "Carrier SBC")  # a dual-stack socket's view


def test_the_table_of_sources_is_bounded_and_keeps_bans() -> None:
    clock = FakeClock()
    g = guard(clock, max_sources=100, burst=1)
    assert not g.admit("INVITE", "198.51.100.1", "sipcli")
    for i in range(5000):
        g.admit("INVITE", f"10.{i // 250}.{i % 250}.1", None)
    assert len(g._sources) <= 101
    assert g.blocked("198.51.100.1")


def test_config_parsed_and_errors_named() -> None:
    s = parse_abuse({"rate": 5, "burst": 20, "ban_seconds": 30, "health_checkers": ["10.1.0.0/16"],
                     "exempt": ["192.0.2.1"], "scanner_user_agents": ["evil"]}, "f.yaml: sip_abuse")
    assert s.rate == 5.0 and s.burst == 20 and s.ban_seconds == 30.0
    assert s.health_checkers == (ipaddress.ip_network("10.1.0.0/16"),)
    assert s.exempt == (ipaddress.ip_network("192.0.2.1/32"),)
    assert s.scanner_user_agents == ("evil",)
    assert parse_abuse({}, "x").exempt is None
    for bad, message in (
        ({"rate": 0}, "sip_abuse.rate"), ({"burst": 1.5}, "sip_abuse.burst"),
        ({"health_checkers": ["10.0.0.1/8"]}, "sip_abuse.health_checkers[0]"),
        ({"bogus": 1}, "unknown key 'bogus'"), ({"enabled": "yes"}, "sip_abuse.enabled"),
        ({"scanner_user_agents": "x"}, "scanner_user_agents"),
    ):
        with pytest.raises(AbuseConfigError, match=message.replace("[", r"\[")):
            parse_abuse(bad, "f.yaml: sip_abuse")


def test_in_dialog_requests_cost_nothing_but_scanners_are_dropped_there_too() -> None:
    g = guard(FakeClock(), burst=1)
    for _ in range(10):
        assert g.admit("INVITE", "203.0.113.9", "PBX", in_dialog=True)  # a re-INVITE
        assert g.admit("BYE", "203.0.113.9", "PBX", in_dialog=True)
    assert g.admit("INVITE", "203.0.113.9", "PBX")
    assert not g.admit("BYE", "203.0.113.10", "friendly-scanner", in_dialog=True)
