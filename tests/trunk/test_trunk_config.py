"""The `trunk:` setting: both forms, every refusal naming the key, credentials only for the
trunk, the caller id on the server's own calls, and the dial plan writing the transport."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from centralita.settings import ConfigError, load_settings
from voice.dialplan import DialPlan
from voice.trunk import TrunkConfig, TrunkConfigError, parse_trunk

TWILIO = {"host": "example.pstn.twilio.com", "transport": "tls", "username": "cc",
          "password": "pw", "caller_id": "+34910000000"}


def test_the_short_form_is_host_and_port_over_udp_without_a_login() -> None:
    trunk = parse_trunk("203.0.113.10:5080", "trunk")
    assert trunk == TrunkConfig("203.0.113.10", 5080)
    assert trunk.uri_params == "" and trunk.credentials_for("sip:+34612345678@203.0.113.10:5080") \
        is None
    assert trunk.client_context() is None


def test_the_mapping_form_defaults_tls_to_5061() -> None:
    trunk = parse_trunk(TWILIO, "trunk")
    assert (trunk.host, trunk.port, trunk.transport) == ("example.pstn.twilio.com", 5061, "tls")
    assert trunk.hostport == "example.pstn.twilio.com:5061"
    assert trunk.uri_params == ";transport=tls"
    assert "pw" not in repr(trunk)  # the password stays out of reprs (and so of logs)


def test_credentials_go_to_the_trunk_only() -> None:
    trunk = parse_trunk(TWILIO, "trunk")
    assert trunk.credentials_for(
        "sip:+34612345678@example.pstn.twilio.com:5061;transport=tls") == ("cc", "pw")
    assert trunk.credentials_for("sips:+34612345678@EXAMPLE.pstn.twilio.com") == ("cc", "pw")
    assert trunk.credentials_for("sip:+34612345678@example.pstn.twilio.com:5060") is None
    assert trunk.credentials_for("sip:a1@198.51.100.7:5060") is None
    assert trunk.credentials_for("not a uri") is None


def test_the_servers_own_calls_present_the_caller_id_and_transfers_keep_the_caller() -> None:
    trunk = parse_trunk(TWILIO, "trunk")
    assert trunk.presented_from("sip:centralita@192.0.2.5") == "sip:+34910000000@192.0.2.5"
    assert trunk.presented_from("sip:+34612345678@192.0.2.5:5060") \
        == "sip:+34612345678@192.0.2.5:5060"
    assert parse_trunk("h:5060", "trunk").presented_from("sip:centralita@h") \
        == "sip:centralita@h"


def test_a_password_file_is_read_and_an_empty_one_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-the-file\n")
    trunk = parse_trunk({"host": "h", "username": "u", "password_file": str(secret)}, "trunk")
    assert trunk.password == "from-the-file"
    secret.write_text("\n")
    with pytest.raises(TrunkConfigError, match="trunk: password_file .* is empty"):
        parse_trunk({"host": "h", "username": "u", "password_file": str(secret)}, "trunk")


@pytest.mark.parametrize(("value", "message"), [
    (5060, "trunk must be 'HOST:PORT' or a mapping"),
    ("nohost", "trunk: expected HOST:PORT"),
    ({"port": 5060}, "trunk: host is required"),
    ({"host": "h", "transport": "sctp"}, "trunk: transport must be udp, tcp or tls"),
    ({"host": "h", "port": 70000}, "trunk: port must be a port number"),
    ({"host": "h", "username": "u"}, "trunk: username and a password go together"),
    ({"host": "h", "username": "u", "password": "p", "password_file": "/x"},
     "trunk: password or password_file, not both"),
    ({"host": "h", "caller_id": "910000000"}, "trunk: caller_id must be a number in E.164"),
    ({"host": "h", "tls_ca": "/etc/hostname"}, "trunk: tls_ca is for transport: tls"),
    ({"host": "h", "transport": "tls", "tls_ca": "/no/such.pem"}, "trunk: tls_ca: no such file"),
    ({"host": "h", "realm": "x"}, "trunk: unknown key 'realm'"),
])
def test_a_bad_trunk_says_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(TrunkConfigError, match=message):
        parse_trunk(value, "trunk")


def test_the_config_file_names_itself_in_the_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("trunk:\n  host: h\n  transport: carrier-pigeon\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: trunk: transport must be"):
        load_settings(cfg, {})
    cfg.write_text("trunk: {host: example.pstn.twilio.com, transport: tls}\n")
    assert load_settings(cfg, {}).trunk == TrunkConfig("example.pstn.twilio.com", 5061, "tls")


def test_the_client_context_verifies_and_wants_tls_1_2() -> None:
    context = parse_trunk(TWILIO, "trunk").client_context()
    assert context is not None
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_the_dial_plan_dials_numbers_with_the_trunks_transport() -> None:
    trunk = parse_trunk(TWILIO, "trunk")
    plan = DialPlan(trunk=trunk.hostport, trunk_params=trunk.uri_params)
    assert plan.customer_uri("612345678") \
        == "sip:+34612345678@example.pstn.twilio.com:5061;transport=tls"


def test_a_sips_uri_to_the_trunk_without_a_port_is_still_checked_as_the_trunk() -> None:
    # sips: means 5061: written without its port it is still the TLS trunk, so a premium
    # number in it is refused rather than dialed as "the operator's own URI".
    plan = DialPlan(trunk="example.pstn.twilio.com:5061", trunk_params=";transport=tls")
    with pytest.raises(Exception, match="premium"):
        plan.route("sips:+34803123456@example.pstn.twilio.com")
    assert plan.route("sip:+34612345678@example.pstn.twilio.com;transport=tls") \
        == "sip:+34612345678@example.pstn.twilio.com:5061;transport=tls"
