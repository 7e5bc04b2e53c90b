"""Recogniser output that is not speech, so it is never stored as a transcript segment.

Whisper decodes whatever window it is given, and on audio with no words in it (line noise at
the start of a call, a breath, a click, music on hold) it still writes something. What it
writes falls into two kinds, and this filter drops exactly those:

1. **No word at all**: only punctuation, symbols and whitespace. A call's first noise came out
   as "........."; "♪ ♪", "- -", "?" are the same thing.
2. **Known hallucinations on non-speech**, learned from the subtitles whisper was trained on:
   a text wholly inside brackets, parentheses or asterisks ("[BLANK_AUDIO]", "(upbeat music)",
   "*coughs*": a captioner's annotation, not words), or one of `HALLUCINATIONS` as the whole
   text ("Thanks for watching!"). Nobody phones a contact center to say those.

Kept on purpose, though whisper also invents them on silence: "Thank you.", "Bye.", "You" —
callers really say them as a whole turn, and losing a real turn is worse than storing a rare
false one. The list stays this short; a phrase goes in only with a recording that shows it.
"""

from __future__ import annotations

import re

# Compared after `_key()`: lowercase, runs of non-alphanumerics as one space.
HALLUCINATIONS = frozenset({
    "thanks for watching",
    "thank you for watching",
    "thanks for watching and see you next time",
    "please subscribe",
    "please like and subscribe",
    "subtitles by the amara org community",
    "blank audio",
})

_ANNOTATION = re.compile(r"^\s*(\[[^\[\]]*\]|\([^()]*\)|\*[^*]*\*)\s*$")


def _key(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def is_junk(text: str) -> bool:
    """True when `text` holds no speech: nothing but punctuation/whitespace, an annotation in
    brackets, or a known hallucination as the whole text."""
    key = _key(text)
    if not key:
        return True
    return key in HALLUCINATIONS or _ANNOTATION.match(text) is not None
