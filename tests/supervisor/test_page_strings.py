"""Every word the supervisor page shows comes from its catalogues (STYLE.md §16): each key the
markup and scripts name is in English, and Spanish has every English key (and no other)."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "web" / "supervisor" / "static"
DESK = Path(__file__).resolve().parents[2] / "web" / "desk" / "static"


def _keys(path: Path) -> set[str]:
    return set(re.findall(r'^\s*"([a-z_.]+)":', path.read_text(), re.MULTILINE))


def test_every_string_the_page_names_is_in_both_catalogues() -> None:
    en, es = _keys(STATIC / "i18n.js"), _keys(STATIC / "i18n_es.js")
    assert en and en == es, (sorted(en - es), sorted(es - en))
    html = (STATIC / "supervisor.html").read_text()
    named = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    for script in STATIC.glob("*.js"):
        named |= set(re.findall(r'\bt\("([a-z_.]+)"', script.read_text()))
    # Keys built from data: a state, a mode, a phase, a channel, a speaker, a figure.
    for prefix, values in {
        "state": ("offline", "available", "reserved", "on_call", "wrap_up", "break"),
        "monitor": ("listen", "whisper", "barge"), "monitor.now": ("listen", "whisper", "barge"),
        "phase": ("connected", "held", "consulting"), "channel": ("chat", "sms", "whatsapp",
                                                                   "email"),
        "speaker": ("caller", "agent"), "link": ("open", "down"),
        "figure": ("service_level", "asa", "aht", "abandonment_rate"),
        "sentiment": ("positive", "negative", "neutral"),
        "topic": ("billing", "refund", "delivery", "cancellation", "technical", "account",
                  "complaint"),
    }.items():
        named |= {f"{prefix}.{v}" for v in values}
    plural = {k.rsplit(".", 1)[0] for k in en if k.endswith((".one", ".other"))}
    missing = sorted(k for k in named if k not in en and k not in plural)
    assert not missing, missing
    assert {"queues.waiting", "monitor.failed", "agents.conversations", "calls.sentiment",
            "nav.review.supervisor"} <= named


def test_no_inline_script_or_handler_in_the_page() -> None:
    html = (STATIC / "supervisor.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script type="module" src="/supervisor/static/supervisor.js">']
    assert not re.search(r"\son[a-z]+=", html)


def test_the_desk_says_each_coaching_mode_in_both_languages() -> None:
    for catalogue in ("i18n.js", "i18n_es.js"):
        keys = _keys(DESK / catalogue)
        assert {"coached.listen", "coached.whisper", "coached.barge"} <= keys, catalogue
