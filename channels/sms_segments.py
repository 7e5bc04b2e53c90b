"""How many SMS parts a text costs: GSM-7 or UCS-2, single or concatenated.

One SMS carries 140 bytes. A text made only of the GSM 03.38 alphabet travels as 7-bit
septets: 160 in one part, 153 per part once concatenated (the user data header takes 7).
Characters of the extension table (`{ } [ ] ~ \\ | ^ €` and form feed) cost two septets, and
a pair is never split across parts. Any other character (an emoji, most accented letters
outside Western Europe, Cyrillic...) makes the whole text UCS-2: 70 UTF-16 code units in one
part, 67 per part concatenated, and a surrogate pair is never split either.

This is what the desk's composer shows and what the sender refuses above Twilio's limit
(1,600 characters: Twilio's maximum body, 10 parts of UCS-2 or 11 of GSM-7).
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE_GSM7 = 160
MULTI_GSM7 = 153
SINGLE_UCS2 = 70
MULTI_UCS2 = 67
#: Twilio refuses a longer body (error 21617).
MAX_BODY_CHARS = 1600


@dataclass(frozen=True)
class Segments:
    """`encoding` "GSM-7" or "UCS-2"; `units` septets or UTF-16 code units in all;
    `count` the SMS parts; `per_segment` the capacity of each part at that count."""

    encoding: str
    units: int
    count: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 alphabet or its extension."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _units(text: str, gsm: bool) -> list[int]:
    """The cost of each character: septets (1 or 2) or UTF-16 code units (1 or 2)."""
    if gsm:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _parts(costs: list[int], capacity: int) -> int:
    """Parts needed when each part holds `capacity` units and no character is split."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts += 1
            used = 0
        used += cost
    return parts


def count_segments(text: str) -> Segments:
    """The parts `text` takes as one SMS (an empty text still takes one)."""
    gsm = is_gsm7(text)
    costs = _units(text, gsm)
    total = sum(costs)
    single, multi = (SINGLE_GSM7, MULTI_GSM7) if gsm else (SINGLE_UCS2, MULTI_UCS2)
    encoding = "GSM-7" if gsm else "UCS-2"
    if total <= single:
        return Segments(encoding, total, 1, single)
    return Segments(encoding, total, _parts(costs, multi), multi)
