"""A knowledge-base article: one Markdown file, its title, language and link.

    ---
    url: https://help.example.com/refunds      # optional: the link an agent sends
    language: es                               # optional: en (default) or es, for stemming
    ---
    # Refunds and returns                      # the first level-1 heading is the title
    Body text...

The slug is the file name without `.md` (letters, digits, '-' and '_'). Without `url` the
link is `{base_url}/{slug}` (config `assist: {base_url: ...}`), so an operator whose help
centre lives elsewhere points every article at it at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
LANGUAGES = ("en", "es")
MAX_ARTICLE_CHARS = 200_000


class ArticleError(ValueError):
    """An article that cannot be used; the message says which file and line."""


@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    title: str
    body: str  # the Markdown after the front matter, title line included
    language: str
    url: str

    def view(self) -> dict[str, str]:
        return {"slug": self.slug, "title": self.title, "language": self.language,
                "url": self.url}


def check_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise ArticleError(
            f"article name {slug!r}: use 1-80 lower-case letters, digits, '-' or '_'"
        )
    return slug


def parse_article(slug: str, text: str, *, base_url: str, where: str = "") -> Article:
    """The article in `text` (a Markdown file's content). `where` names it in errors."""
    at = where or f"article {slug}"
    check_slug(slug)
    if len(text) > MAX_ARTICLE_CHARS:
        raise ArticleError(f"{at}: longer than {MAX_ARTICLE_CHARS} characters")
    meta: dict[str, str] = {}
    lines = text.splitlines()
    body_from = 0
    if lines and lines[0].strip() == "---":
        for n, line in enumerate(lines[1:], start=2):
            if line.strip() == "---":
                body_from = n
                break
            key, sep, value = line.partition(":")
            if not sep or key.strip() not in ("url", "language"):
                raise ArticleError(
                    f"{at}:{n}: front matter takes 'url: ...' and 'language: en|es'"
                )
            meta[key.strip()] = value.strip()
        else:
            raise ArticleError(f"{at}:1: front matter opened with '---' is never closed")
    body = "\n".join(lines[body_from:]).strip()
    language = meta.get("language", "en")
    if language not in LANGUAGES:
        raise ArticleError(f"{at}: language {language!r}: expected one of {', '.join(LANGUAGES)}")
    url = meta.get("url") or f"{base_url.rstrip('/')}/{slug}"
    if not url.startswith(("https://", "http://", "/")):
        raise ArticleError(f"{at}: url {url!r} must be http(s):// or a path")
    title = next((ln[2:].strip() for ln in body.splitlines() if ln.startswith("# ")), "")
    if not title:
        raise ArticleError(f"{at}: no title: start the article with a '# Title' line")
    if not body.replace(f"# {title}", "", 1).strip():
        raise ArticleError(f"{at}: the article has a title and no text")
    return Article(slug, title, body, language, url)
