"""What a stored transcript may keep: card numbers and long spoken digit runs masked.

`redact(text, lang)` runs on every transcript segment before it is stored
(`CaseStore.add_segment`), so the database, the full-text index (`cases.transcript_search`),
the case's live view and every later reader see only the masked text. It reuses the fact
extractor's masking (`cases.facts.mask_text`: spoken numbers written as digits by
`cases.spoken_numbers`, then card numbers by Luhn and length, security codes, PINs, expiry
dates and passwords), and then masks every remaining run of `MIN_RUN` digits or more that no
reference word (order, account, ticket, phone...) introduced: a recogniser cuts a card number
read aloud into two segments of eight digits each, and neither half is a card number by
itself.

A text with nothing to mask is kept exactly as it was said (spoken numbers stay words);
one with something masked is stored in its normalised form (numbers as digits).
"""

from __future__ import annotations

import re

from cases.facts import _REFERENCE_TOLD, MASK, mask_text

# Digit runs this long or longer are masked (six: longer than a PIN, a CVV or a year, and
# half a card number said in two breaths is eight).
MIN_RUN = 6
# Digits in one run may be separated as recognisers write them: "4111 1111", "41-11", "4, 1".
_RUN = re.compile(r"(?<![\d*])\d(?:(?:,? |-|\.)?\d)*(?![\d*])")
# How far back a reference word counts as introducing a run ("order number is 456789").
_TOLD_WINDOW = 40


def _mask_runs(text: str) -> str:
    def run(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group())
        if len(digits) < MIN_RUN:
            return m.group()
        if _REFERENCE_TOLD.search(text, max(0, m.start() - _TOLD_WINDOW), m.start()):
            return m.group()
        return MASK

    return _RUN.sub(run, text)


def redact(text: str, lang: str | None = None) -> str:
    """`text` as a stored transcript may hold it (see the module doc)."""
    masked = _mask_runs(mask_text(text, lang))
    return masked if masked.count(MASK) > text.count(MASK) else text
