"""The `post_call:` section: defaults, per-language models, and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from centralita.settings import ConfigError, load_settings
from recordings.postcall_config import PostCallConfig, PostCallConfigError, parse_post_call


def test_defaults_and_models_by_language() -> None:
    assert not PostCallConfig().enabled
    config = parse_post_call({"models": {"fr": "/models/whisper-small"}, "priority": "nice",
                              "nice": 10, "lease": 30})
    assert config.enabled and config.priority == "nice" and config.nice == 10
    assert config.model_for("en") == "tiny.en" and config.model_for("es") == "base"
    assert config.model_for("fr") == "/models/whisper-small"
    assert config.model_for(None) == "base" and config.model_for("de") == "base"


@pytest.mark.parametrize(("section", "message"), [
    ({"priority": "realtime"}, "post_call.priority must be idle or nice"),
    ({"nice": 40}, "post_call.nice must be a whole number from 0 to 19"),
    ({"lease": 1}, "post_call.lease must be 5 to 86400 seconds"),
    ({"models": ["base"]}, "post_call.models must map a language to a model"),
    ({"engine": "vosk"}, "post_call: unknown key 'engine'"),
])
def test_mistakes_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(PostCallConfigError, match=message):
        parse_post_call(section)


def test_the_settings_file_reads_the_section(tmp_path: Path) -> None:
    path = tmp_path / "centralita.yaml"
    path.write_text("post_call:\n  enabled: true\n  cpu_threads: 2\n")
    settings = load_settings(path, {})
    assert settings.post_call.enabled and settings.post_call.cpu_threads == 2
    path.write_text("post_call:\n  beam_size: 0\n")
    with pytest.raises(ConfigError, match="beam_size"):
        load_settings(path, {})
