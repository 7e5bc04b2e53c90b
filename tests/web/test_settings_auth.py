"""The `auth` section of the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from centralita.settings import ConfigError, load_settings
from web.auth.tokens import digest

TOKEN = "ctk_" + "a" * 40


def _load(tmp_path: Path, auth: object) -> object:
    path = tmp_path / "centralita.yaml"
    path.write_text(yaml.safe_dump({"auth": auth}), encoding="utf-8")
    return load_settings(path, {}).auth


def test_tokens_are_read_from_files_and_kept_as_digests(tmp_path: Path) -> None:
    (tmp_path / "crm.token").write_text(TOKEN + "\n")
    auth = _load(tmp_path, {
        "admin_password_file": "/run/secrets/admin",
        "cookie_secure": True,
        "tokens": [{"name": "crm", "role": "supervisor", "token_file": str(tmp_path / "crm.token")}],
    })
    assert auth.cookie_secure is True  # type: ignore[attr-defined]
    assert str(auth.admin_password_file) == "/run/secrets/admin"  # type: ignore[attr-defined]
    (token,) = auth.tokens  # type: ignore[attr-defined]
    assert (token.name, token.role, token.digest) == ("crm", "supervisor", digest(TOKEN))
    assert TOKEN not in repr(auth)


def test_defaults_without_an_auth_section() -> None:
    auth = load_settings(None, {}).auth
    assert (auth.admin_password_file, auth.tokens, auth.cookie_secure) == (None, (), False)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("yes", "auth must be a mapping"),
        ({"users": []}, "unknown key 'users'"),
        ({"cookie_secure": "on"}, "cookie_secure"),
        ({"tokens": {"name": "x"}}, "tokens must be a list"),
        ({"tokens": [{"name": "x", "role": "agent"}]}, "tokens[0] must have"),
        ({"tokens": [{"name": "x", "role": "boss", "token_file": "t"}]}, "tokens[0].role"),
        ({"tokens": [{"name": "x", "role": "agent", "token_file": "/nonexistent/t"}]},
         "tokens[0].token_file: cannot read"),
        ({"tokens": [{"name": "x", "role": "agent", "token_file": "SHORT"}]},
         "at least 32 characters"),
    ],
)
def test_bad_auth_sections_name_the_key(tmp_path: Path, auth: object, message: str) -> None:
    (tmp_path / "SHORT").write_text("tooshort\n")
    if isinstance(auth, dict):
        for token in auth.get("tokens", []) if isinstance(auth.get("tokens"), list) else []:
            if token.get("token_file") == "SHORT":
                token["token_file"] = str(tmp_path / "SHORT")
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, auth)
    assert message in str(err.value)
    assert "centralita.yaml" in str(err.value)
