"""HTML from outside (an email's text/html part) made safe to show in a page, and its text.

The sanitiser is `nh3`, the Python binding of the Rust crate ammonia: an allow-list
sanitiser built on html5ever (the browser-grade HTML5 parser of Servo), maintained, fast, with
no Python dependencies. `bleach`, the long-time choice, was deprecated by Mozilla in 2023;
ammonia is what its maintainers pointed to. What passes: formatting tags, links to http(s)
and mailto only, with `rel="noopener noreferrer nofollow"`; what goes: scripts, styles,
event handlers (`onerror`), `javascript:` and `data:` URLs, forms, iframes, images (remote
images are tracking beacons; attachments are shown by the desk, not inline).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "u", "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_URL_SCHEMES = {"http", "https", "mailto"}
# Their content goes too, not only the tags: a script's text is not the customer's words.
_DROP_WITH_CONTENT = {"script", "style", "template", "title", "head", "noscript", "iframe",
                      "object", "embed", "svg", "math", "textarea", "select"}


def sanitize_html(value: str, *, strip_quotes: bool = False) -> str:
    """`value` with only safe markup left (see the module doc). `strip_quotes` also drops
    `<blockquote>` elements with their content: the quoted history of a reply."""
    drop = _DROP_WITH_CONTENT | ({"blockquote"} if strip_quotes else set())
    tags = _TAGS - drop
    return nh3.clean(
        value,
        tags=tags,
        clean_content_tags=drop,
        attributes={k: v for k, v in _ATTRIBUTES.items() if k in tags},
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
          "pre", "table", "hr"}


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_WITH_CONTENT:
            self._skip += 1
        elif tag == "blockquote":
            self._quote += 1
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_WITH_CONTENT:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._quote:
            # Quoted history becomes "> " lines, as a plain-text client writes it.
            data = "\n".join("> " + line if line.strip() else line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(value: str) -> str:
    """The readable text of an HTML document: blocks on their own lines, quoted blocks as
    `> ` lines, scripts and styles dropped."""
    parser = _TextOf()
    parser.feed(value)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def text_to_html(value: str) -> str:
    """Plain text as escaped HTML paragraphs (for a display version of a plain-text email)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", value.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
