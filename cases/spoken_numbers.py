"""Spoken numbers written as digits, in English and Spanish: "four five six" -> "456".

Callers read references digit by digit ("four five six", "cuatro cinco seis"), in pairs
("twenty twenty four", "veinte veinticuatro"), with "double five", "oh" for zero, or as
cardinals ("four hundred fifty six", "cuatrocientos cincuenta y seis"); recognisers write
what they heard either way ("4-5-6", "four, five, six"). `normalise` rewrites every run of
number words into its digits, so the fact extractor (`cases.facts`) sees one form.

A run is cut into chunks, each a cardinal read the natural way (a unit ends its chunk unless
"hundred"/"thousand" follows; tens take one unit: "twenty three" is 23, "twenty three four"
is 234); the chunks' digits are concatenated. Pure, deterministic, no model.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Token kinds: U unit 0-9, T complete 10-19 (and Spanish 21-29), D tens 20-90,
# H "hundred", C a complete Spanish hundred (cien, doscientos...), K thousand, M million,
# O ordinal completing tens ("twenty first"), X double/triple, J a joiner (and / y).
_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
    "cero": 0, "uno": 1, "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9,
}
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19,
    "veintiuno": 21, "veintiun": 21, "veintiuna": 21, "veintidos": 22, "veintitres": 23,
    "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26, "veintisiete": 27,
    "veintiocho": 28, "veintinueve": 29,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
    "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60,
    "setenta": 70, "ochenta": 80, "noventa": 90,
}
_HUNDREDS_ES = {
    "cien": 100, "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300,
    "trescientas": 300, "cuatrocientos": 400, "cuatrocientas": 400, "quinientos": 500,
    "quinientas": 500, "seiscientos": 600, "seiscientas": 600, "setecientos": 700,
    "setecientas": 700, "ochocientos": 800, "ochocientas": 800, "novecientos": 900,
    "novecientas": 900,
}
_ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9,
}
_REPEAT = {"double": 2, "triple": 3, "doble": 2}
_JOINERS = {"and", "y"}
# Alone, these are words more often than numbers ("the one I bought", "oh no").
_NOT_ALONE = {"one", "un", "una", "oh", "once", "mil"}
# Spanish number words that are also English words: never numbers in English text.
_SPANISH_ONLY = {"once", "y", "un", "una", "dos", "mil"}

_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")
# What may stand between two tokens of one run.
_GAP = re.compile(r"\s*(?:[,-]\s*)?\Z")


@functools.lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """`word` lowercased without accents ("Dieciséis" -> "dieciseis")."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass
class _Tok:
    kind: str
    value: int
    start: int
    end: int
    text: str


@functools.lru_cache(maxsize=8192)
def _classify(word: str) -> tuple[str, int] | None:
    w = fold(word)
    if w.isdigit():
        return "N", 0
    if w in _UNITS:
        return "U", _UNITS[w]
    if w in _TEENS:
        return "T", _TEENS[w]
    if w in _TENS:
        return "D", _TENS[w]
    if w in _HUNDREDS_ES:
        return "C", _HUNDREDS_ES[w]
    if w in ("hundred", "hundreds"):
        return "H", 100
    if w in ("thousand", "mil"):
        return "K", 1000
    if w in ("million", "millon", "millones"):
        return "M", 1_000_000
    if w in _ORDINAL_UNITS:
        return "O", _ORDINAL_UNITS[w]
    if w in _REPEAT:
        return "X", _REPEAT[w]
    if w in _JOINERS:
        return "J", 0
    return None


class _Chunk:
    """One cardinal being read: `total` (thousands and up) + `small` (below a thousand)."""

    def __init__(self) -> None:
        self.total = 0
        self.small = 0
        self.last = ""
        self.words = 0

    def digits(self) -> str:
        return str(self.total + self.small)

    def extends(self, kind: str, value: int) -> bool:
        """Whether the token continues this cardinal (else it starts the next chunk)."""
        last = self.last
        if last == "":
            return kind in "UTDCKM"
        if kind in "HKM":
            return last in "UTDC" or (kind in "KM" and last in "H")
        if kind == "U":
            return last in "HCKM" or (last == "D" and self.small % 10 == 0) or last == "J"
        if kind == "O":
            return last == "D" and self.small % 10 == 0
        if kind in "TD":
            return last in "HCKM" or (last == "J" and kind in "TD")
        if kind == "C":
            return last in "KM"
        return False

    def add(self, kind: str, value: int) -> None:
        if kind in "UTDOC":
            self.small += value
        elif kind == "H":
            self.small = max(self.small, 1) * 100
        elif kind in "KM":
            self.total += max(self.small, 1) * value
            self.small = 0
        self.last = "D" if kind == "O" else kind
        self.words += 1


def _read_run(run: list[_Tok]) -> str | None:
    """The digits a run of number tokens says, or None when it says no number."""
    out: list[str] = []
    chunk: _Chunk | None = None
    repeat = 1
    i = 0
    while i < len(run):
        tok = run[i]
        if tok.kind == "X":
            repeat = tok.value
            i += 1
            continue
        if tok.kind == "N":
            if chunk is not None:
                out.append(chunk.digits())
                chunk = None
            out.append(tok.text * repeat)
            repeat = 1
            i += 1
            continue
        if tok.kind == "J":
            # "and"/"y" joins only inside a cardinal: "one hundred and five", "treinta y dos".
            nxt = run[i + 1] if i + 1 < len(run) else None
            joins = chunk is not None and nxt is not None and (
                (chunk.last in "HCK" and nxt.kind in "UTD")
                or (chunk.last == "D" and chunk.small % 10 == 0 and nxt.kind == "U"))
            if not joins:
                return None
            assert chunk is not None
            chunk.last = "J" if chunk.last == "D" else chunk.last
            i += 1
            continue
        if repeat > 1 and tok.kind == "U":
            if chunk is not None:
                out.append(chunk.digits())
                chunk = None
            out.append(str(tok.value) * repeat)
            repeat = 1
            i += 1
            continue
        if chunk is not None and chunk.extends(tok.kind, tok.value):
            if chunk.last == "J" and tok.kind == "U":
                chunk.last = "D"
            chunk.add(tok.kind, tok.value)
        else:
            if chunk is not None:
                out.append(chunk.digits())
            if tok.kind == "O":
                return None
            chunk = _Chunk()
            chunk.add(tok.kind, tok.value)
        i += 1
    if chunk is not None:
        out.append(chunk.digits())
    return "".join(out) if out else None


def _runs(text: str, lang: str | None) -> list[list[_Tok]]:
    """Maximal runs of number tokens separated only by spaces, commas or hyphens."""
    runs: list[list[_Tok]] = []
    current: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        if m.group() in (",", "-"):
            continue  # the gap check below decides whether it separates two numbers
        found = _classify(m.group())
        if found is not None and lang == "en" and fold(m.group()) in _SPANISH_ONLY:
            found = None
        if found is None:
            if current:
                runs.append(current)
                current = []
            continue
        tok = _Tok(found[0], found[1], m.start(), m.end(), m.group())
        if current:
            prev = current[-1]
            long_digits = (tok.kind == "N" and len(tok.text) > 1) or (
                prev.kind == "N" and len(prev.text) > 1)
            if long_digits or _GAP.match(text[prev.end:tok.start]) is None:
                runs.append(current)
                current = []
        current.append(tok)
    if current:
        runs.append(current)
    return runs


def _trim(run: list[_Tok]) -> list[_Tok]:
    """A run without joiners or repeat words at its edges (they belong to the sentence)."""
    while run and run[0].kind in "JO":
        run = run[1:]
    while run and run[-1].kind in "JX":
        run = run[:-1]
    return run


_DIGITS = r"zero|oh|one|two|three|four|five|six|seven|eight|nine|\d"
_DIGIT_WORD = rf"(?:{_DIGITS})\b"
# Recognisers write a digit as its homophone ("my order for five six"). "for" counts as 4
# only when two digits follow it ("paid for five items" stays); "to", "too", "won", "ate"
# only between digits, with two after ("four to five six", never "went to one two").
_HOMOPHONES = re.compile(
    rf"\b(for)\b(?=[\s,-]+{_DIGIT_WORD}[\s,-]+{_DIGIT_WORD})", re.IGNORECASE)
_HOMOPHONES_MID = re.compile(
    rf"\b((?:{_DIGITS})[\s,-]+)(to|too|won|ate)\b(?=[\s,-]+{_DIGIT_WORD}[\s,-]+"
    rf"{_DIGIT_WORD})", re.IGNORECASE)
_HOMOPHONE_DIGIT = {"for": "four", "to": "two", "too": "two", "won": "one", "ate": "eight"}


def normalise(text: str, lang: str | None = None) -> str:
    """`text` with each run of spoken (or digit-by-digit) numbers replaced by its digits.

    "my order is four five six" -> "my order is 456"; "cuatro cinco seis" -> "456";
    "double five oh one" -> "5501"; "twenty three" -> "23"; "4-5-6" -> "456". Single words
    that are usually not numbers ("one", "un", "oh") are left alone, as are words in runs
    that read as no number. `lang` ("en", "es" or None for either) keeps Spanish-only words
    ("once" is 11 in Spanish) out of English text.
    """
    if lang != "es":
        text = _HOMOPHONES.sub(lambda m: _HOMOPHONE_DIGIT[m.group(1).lower()], text)
        text = _HOMOPHONES_MID.sub(
            lambda m: m.group(1) + _HOMOPHONE_DIGIT[m.group(2).lower()], text)
    out: list[str] = []
    pos = 0
    for raw in _runs(text, lang):
        run = _trim(raw)
        if not run:
            continue
        alone = _NOT_ALONE - {"once", "mil"} if lang == "es" else _NOT_ALONE
        if len(run) == 1 and (fold(run[0].text) in alone or run[0].kind in "NHKMX"):
            continue
        digits = _read_run(run)
        if digits is None:
            continue
        out.append(text[pos:run[0].start])
        out.append(digits)
        pos = run[-1].end
    out.append(text[pos:])
    return "".join(out)
