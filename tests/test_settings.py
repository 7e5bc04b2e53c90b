"""Config file and flags: good values land, bad ones name the file, line or key."""

from __future__ import annotations

from pathlib import Path

import pytest

from centralita.settings import ConfigError, HostPort, load_settings
from voice.trunk import TrunkConfig


def test_defaults_then_file_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "sip_listen: 127.0.0.1:5070\nregistrar:\n  realm: r\n  users: {alice: secret, bob: 1234}\n"
    )
    s = load_settings(
        cfg, {"http_listen": "127.0.0.1:9000", "data_dir": None, "trunk": "127.0.0.1:5080"}
    )
    assert s.trunk == TrunkConfig("127.0.0.1", 5080)
    assert s.sip_listen == HostPort("127.0.0.1", 5070)
    assert s.tls_listen == HostPort("127.0.0.1", 5071)
    assert s.http_listen.port == 9000
    assert s.registrar.users == {"alice": "secret", "bob": "1234"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sip_listen: nowhere\n", "sip_listen: expected HOST:PORT"),
        ("bogus: 1\n", "unknown key 'bogus'"),
        ("rtp_port_min: 5\n", "rtp_port_min must be a port number"),
        ("registrar: {users: [a]}\n", "registrar: realm is text, users a mapping"),
        ("a: [\n", ":2:1: not valid YAML"),
        ("- 1\n", "the top level must be a mapping"),
        ("demo_hangup_after: -1\n", "positive number of seconds"),
        # media: realtime scheduling (centralita.realtime)
        ("media: 10\n", "media must be a mapping"),
        ("media: {realtime: 10}\n", "media: unknown key 'realtime'"),
        ("media: {realtime_priority: 0}\n", "realtime_priority must be a whole number from 1 to 99"),
        ("media: {realtime_priority: 100}\n", "from 1 to 99"),
        ("media: {realtime_priority: true}\n", "from 1 to 99"),
        ("media: {realtime_priority: '10'}\n", "from 1 to 99"),
        ("media: {switch_interval_ms: 0}\n", "switch_interval_ms must be a number"),
    ],
)
def test_bad_config_names_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, {})
    assert str(cfg) in str(info.value)
    assert message in str(info.value)


def test_bad_flag_is_named() -> None:
    with pytest.raises(ConfigError, match="--sip-listen: expected HOST:PORT"):
        load_settings(None, {"sip_listen": "5060"})


@pytest.mark.parametrize(("text", "mode"), [("off", "off"), ("on", "on"), ("auto", "auto")])
def test_inband_dtmf_from_yaml(tmp_path: Path, text: str, mode: str) -> None:
    # A bare on/off is a YAML boolean; it still means the mode of that name.
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inband_dtmf: {text}\n")
    assert load_settings(cfg, {}).inband_dtmf == mode
    assert load_settings(None, {}).inband_dtmf == "on"


def test_bad_inband_dtmf_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("inband_dtmf: maybe\n")
    with pytest.raises(ConfigError, match="inband_dtmf must be on, auto or off"):
        load_settings(cfg, {})
