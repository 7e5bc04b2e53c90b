"""Matching recognized speech against expected phrases and their synonyms.

    matcher = PhraseMatcher({"billing": ["billing", "invoice", "payment"],
                             "support": ["support", "help", "technical"]})
    matcher.match("I need help with my billing")  -> "billing"

Text and phrases are normalised alike (lower case, punctuation dropped, a plural "s" taken
off each word) and a phrase matches a whole run of words. Each choice scores one point per
phrase heard, and its first phrase (its own name, by convention) counts double: in "help with
my billing" the caller names billing and "help" is only a filler word for support. A tie goes
to the choice heard first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def words(text: str) -> list[str]:
    """Normalised words of `text`."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return [_stem(w.replace("'", "")) for w in _WORD.findall(folded)]


def _stem(word: str) -> str:
    # Only the plural: "invoices" -> "invoice", leaving "is", "bus", "process" alone.
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class PhraseMatcher:
    """Maps recognized text to one choice of `choices` (name -> phrases), or None."""

    def __init__(self, choices: Mapping[str, Sequence[str]]) -> None:
        self._choices: list[tuple[str, list[list[str]]]] = []
        # As written, for the recogniser's phrase hints (media.asr engines).
        self.hints: tuple[str, ...] = tuple(
            dict.fromkeys(p.strip() for ps in choices.values() for p in ps if p.strip())
        )
        for name, phrases in choices.items():
            tokenised = [words(p) for p in phrases]
            self._choices.append((name, [t for t in tokenised if t]))

    def match(self, text: str) -> str | None:
        heard = words(text)
        best: tuple[float, int, str] | None = None  # (score, -first position, name)
        for name, phrases in self._choices:
            score = 0.0
            first = len(heard)
            for i, phrase in enumerate(phrases):
                at = _find(heard, phrase)
                if at is None:
                    continue
                score += 2.0 if i == 0 else 1.0
                first = min(first, at)
            if score and (best is None or (score, -first) > best[:2]):
                best = (score, -first, name)
        return None if best is None else best[2]


def _find(heard: list[str], phrase: list[str]) -> int | None:
    n = len(phrase)
    for i in range(len(heard) - n + 1):
        if heard[i : i + n] == phrase:
            return i
    return None
