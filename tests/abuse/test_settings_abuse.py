"""The `sip_abuse` section of the config file (centralita.settings -> voice.sip.abuse)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from centralita.settings import ConfigError, load_settings
from voice.sip.abuse import DEFAULT_SCANNER_AGENTS


def test_defaults_and_a_configured_section(tmp_path: Path) -> None:
    s = load_settings(None, {})
    assert s.sip_abuse.enabled and s.sip_abuse.exempt is None
    assert s.sip_abuse.scanner_user_agents == DEFAULT_SCANNER_AGENTS
    config = tmp_path / "c.yaml"
    config.write_text("sip_abuse:\n  rate: 2\n  burst: 4\n  ban_seconds: 3600\n"
                      "  health_checkers: [10.0.0.7]\n  exempt: []\n", encoding="utf-8")
    a = load_settings(config, {}).sip_abuse
    assert (a.rate, a.burst, a.ban_seconds, a.exempt) == (2.0, 4, 3600.0, ())
    assert a.health_checkers == (ipaddress.ip_network("10.0.0.7/32"),)


def test_a_wrong_value_names_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("sip_abuse:\n  ban_seconds: soon\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml: sip_abuse\.ban_seconds must be a number"):
        load_settings(config, {})
