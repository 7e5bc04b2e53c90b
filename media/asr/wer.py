"""Word error rate: word-level edit distance over the reference length, after normalising.

Normalising lowercases, turns hyphens into spaces, drops other punctuation and spells numbers
as words (Whisper writes "5", "10" and "Mr.", references say "five", "ten" and "mister"), so
only real recognition errors count. Numbers up to 99 are spelled as said ("10" -> "ten",
"42" -> "forty two"); longer ones digit by digit, as phone and card numbers are read.
"""

from __future__ import annotations

import re

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spell(number: str) -> list[str]:
    """A run of digits as words: 0-99 as said, longer runs digit by digit."""
    if len(number) == 2 and number[0] != "0":
        tens, units = int(number[0]), int(number[1])
        if tens == 1:
            return [_TEENS[units]]
        return [_TENS[tens]] + ([_DIGITS[units]] if units else [])
    return [_DIGITS[int(d)] for d in number]
# Titles Whisper abbreviates and references spell out.
_SPELLED = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def normalize(text: str) -> list[str]:
    """Lowercase words without punctuation; single digits spelled out."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    words: list[str] = []
    for w in text.split():
        w = w.strip("'")
        if w.isdigit():
            words += _spell(w)
        elif w:
            words.append(_SPELLED.get(w, w))
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Substitutions + deletions + insertions turning `ref` into `hyp` (Levenshtein)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: total edits over total reference words."""
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses differ in length")
    edits = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r = normalize(ref)
        edits += edit_distance(r, normalize(hyp))
        words += len(r)
    if words == 0:
        raise ValueError("references have no words")
    return edits / words
