"""The `assist:` section of the server's config.

    assist:
      articles: kb/                 # a folder of Markdown articles (required)
      base_url: https://help.example.com/kb   # links of articles without their own url
      suggestions: 3                # how many the desk is shown (1-10)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class AssistConfigError(ValueError):
    """A bad `assist:` section; the message names the key."""


@dataclass(frozen=True)
class AssistSettings:
    articles: Path
    base_url: str = "/kb"
    suggestions: int = 3


def parse_assist(value: Any, where: str) -> AssistSettings:
    if not isinstance(value, dict):
        raise AssistConfigError(f"{where}: must be a mapping with 'articles: DIR'")
    unknown = set(value) - {"articles", "base_url", "suggestions"}
    if unknown:
        raise AssistConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    articles = value.get("articles")
    if not isinstance(articles, str) or not articles:
        raise AssistConfigError(f"{where}: articles must be a folder path")
    base_url = value.get("base_url", "/kb")
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://", "/")):
        raise AssistConfigError(f"{where}: base_url must be http(s)://... or a path")
    n = value.get("suggestions", 3)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
        raise AssistConfigError(f"{where}: suggestions must be a number 1-10")
    return AssistSettings(Path(articles), base_url, n)
