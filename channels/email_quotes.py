"""The quoted history of an email reply: found in plain text so the timeline can leave it out.

The stored body keeps everything; `strip_quoted` gives what the customer wrote this time.
What counts as history, as mail clients write it:

- lines starting with `>` (every client's plain-text quoting), with the attribution line just
  before them ("On Mon, 3 Mar 2025, Ana wrote:", "El ... escribió:", "Le ... a écrit :",
  "Am ... schrieb ...:");
- everything from a forwarded / original-message separator on ("-----Original Message-----",
  "-------- Mensaje original --------", Outlook's "From: ... Sent: ..." header block).

Interleaved answers (quote, answer, quote, answer) keep every answer. When stripping would
leave nothing (a bare forward), the whole text is shown.
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(
    r"^\s*(on\b.*\bwrote|el\b.*\bescribi[oó]|le\b.*\ba [ée]crit|am\b.*\bschrieb.*)\s*:?\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|mensaje original|message d'origine|forwarded message|"
    r"mensaje reenviado|ursprüngliche nachricht)\s*-{2,}"
    r"|_{10,})\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|de|von)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|enviado|date|fecha|gesendet|to|para)\s*:", re.IGNORECASE)


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_span(lines: list[str], i: int) -> int:
    """How many lines from `i` are an attribution introducing a quote (0: none)."""
    for span in (1, 2):
        if span == 2 and "@" not in " ".join(lines[i:i + 2]):
            return 0  # only an attribution wrapped inside its address spans two lines
        following = next((nxt for nxt in lines[i + span:] if nxt.strip()), "")
        if _ATTRIBUTION.match(" ".join(lines[i:i + span])) and _is_quote(following):
            return span
    return 0


def strip_quoted(text: str) -> tuple[str, bool]:
    """(what the sender wrote this time, whether any history was removed)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # A separator or an Outlook header block ends the new text: all below is history.
    for i, line in enumerate(lines):
        outlook = _OUTLOOK_FROM.match(line) and i + 1 < len(lines) \
            and _OUTLOOK_NEXT.match(lines[i + 1])
        if _SEPARATOR.match(line) or outlook:
            lines = lines[:i]
            break
    kept: list[str] = []
    skip = 0
    for i, line in enumerate(lines):
        if skip:
            skip -= 1
            continue
        if _is_quote(line):
            continue
        # An attribution line introduces the quote that follows it (blank lines between);
        # clients wrap a long one ("On ..., Ana <ana@...>" / "wrote:"), so two lines count.
        span = _attribution_span(lines, i)
        if span:
            skip = span - 1
            continue
        kept.append(line)
    stripped = _tidy(kept)
    if not stripped:
        return text.strip(), False
    return stripped, stripped != _tidy(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _tidy(lines: list[str]) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
