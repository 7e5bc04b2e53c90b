"""The review page's words: every key the markup and scripts use is in the English
catalogue, and the Spanish catalogue has exactly the English keys (STYLE.md §16)."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "web" / "review" / "static"
_KEY = re.compile(r'^\s*"([\w.]+)":', re.MULTILINE)


def keys(name: str) -> set[str]:
    return set(_KEY.findall((STATIC / name).read_text()))


def test_spanish_has_every_english_key_and_no_other() -> None:
    en, es = keys("i18n.js"), keys("i18n_es.js")
    assert len(en) > 30
    assert en - es == set() and es - en == set()


def test_every_key_the_page_uses_is_in_the_catalogue() -> None:
    en = keys("i18n.js")
    html = (STATIC / "review.html").read_text()
    used = set(re.findall(r'data-i18n(?:-placeholder|-aria-label)?="([\w.]+)"', html))
    for script in STATIC.glob("*.js"):
        used |= set(re.findall(r'\bt\("([\w.]+)"', script.read_text()))
    # Keys made at run time: t(`speaker.${...}`), t(`paused.by.${kind}`), plural forms.
    used |= {"speaker.caller", "speaker.agent", "paused.by.agent", "paused.by.ivr",
             "paused.by.api", "search.count.one", "search.count.other"}
    used.discard("search.count")
    assert used - en == set()
    assert "<script>" not in html and " on" + "click=" not in html
