"""Facts a customer gave, found in what they said or wrote, with sensitive values masked.

`scan(text, ...)` reads one transcript segment, message or IVR answer: it writes spoken
numbers as digits (`cases.spoken_numbers`), masks what must never be kept (card numbers by
Luhn and length, spoken or typed; the digits after "security code"/CVV/PIN; after
"código de seguridad"), then finds typed facts: `order_number`, `account_number`,
`tracking_number`, `invoice_number`, `ticket_number`, `reference_number`, `phone`, `email`,
`amount`, `date`. Masking runs first and the extractors read the masked text, so a fact can
never hold a masked value. Rules only, English and Spanish; deterministic.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers

from cases.spoken_numbers import fold, normalise

MASK = "***"
# A masked card keeps its last four digits (what a receipt shows, PCI DSS 3.3).
CARD_KEY = "card_number"

_EN_WORDS = frozenset((
    "the", "and", "is", "it", "my", "i", "you", "to", "a", "of", "for", "in", "on", "that",
    "this", "was", "have", "with", "order", "please", "yes", "no", "your", "me", "what",
    "can", "number", "about", "would", "like", "calling", "thank", "thanks"))
# Folded (no accents): "número" is "numero" here.
_ES_WORDS = frozenset((
    "el", "la", "los", "las", "de", "que", "y", "en", "un", "una", "mi", "es", "por", "para",
    "con", "no", "si", "pedido", "quiero", "llamo", "gracias", "hola", "numero", "usted",
    "su", "me", "lo", "le", "favor", "tengo"))


def language(text: str) -> str | None:
    """"en" or "es" by counting common words, None when neither shows."""
    words = [fold(w) for w in re.findall(r"[^\W\d_]+", text)]
    en = sum(w in _EN_WORDS for w in words)
    es = sum(w in _ES_WORDS for w in words)
    if en == es:
        return None
    return "en" if en > es else "es"


@dataclass(frozen=True)
class Found:
    """One fact in one piece of text: its typed key, its normalised value (masked when
    `masked`), and what was said (masked the same way)."""

    key: str
    value: str
    masked: bool = False
    said: str = ""


@dataclass(frozen=True)
class Scan:
    """What `scan` made of one text: the facts, the text with numbers as digits and every
    sensitive value masked, and its language."""

    facts: tuple[Found, ...] = ()
    text: str = ""
    language: str | None = None


# -- masking ---------------------------------------------------------------------------------

# Digits in groups, as people say and recognisers write them: "4111 1111", "4111-1111",
# "4111, 1111" (whisper puts commas between spoken groups).
_CARD = re.compile(r"(?<![\d*])\d(?:(?:,? |-)?\d){12,}(?![\d*])")
# Said before a card number (and what recognisers make of "card number").
_CARD_TOLD = re.compile(r"card|car number|tarjeta|visa|mastercard|amex|credit|debit|d[eé]bito"
                        r"|cr[eé]dito", re.IGNORECASE)
_SECRET_TRIGGER = re.compile(
    r"(security code|secure code|cvv2?|cvc2?|card verification|three digits? on the back"
    r"|c[oó]digo de seguridad|c[oó]digo cvv|\bpin\b|pin number|n[uú]mero pin|expir\w*"
    r"|expiration|caducidad|caduca|vence|fecha de vencimiento)",
    re.IGNORECASE)
_SECRET_VALUE = re.compile(r"\d{1,2}\s*/\s*\d{2,4}|\d{3,4}")
_PASSWORD = re.compile(r"\b(password|passcode|contrase[nñ]a|clave)\b\W+(?:is\s+|es\s+)?(\S+)",
                       re.IGNORECASE)


# A card number masked before (it keeps its last four digits).
_MASKED_CARD = re.compile(re.escape(MASK) + r"\d{4}(?!\d)")
_REFERENCE_TOLD = re.compile(
    r"order|pedido|tracking|seguimiento|account|cuenta|invoice|factura|ticket|reference"
    r"|referencia|booking|reserva|confirmation|confirmaci[oó]n|claim|phone|tel[eé]fono",
    re.IGNORECASE)


def luhn(digits: str) -> bool:
    """Whether `digits` pass the Luhn check (every payment card number does)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_cards(text: str, found: list[Found]) -> str:
    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group())
        told = _CARD_TOLD.search(text, max(0, m.start() - 40), m.start()) is not None
        reference = _REFERENCE_TOLD.search(text, max(0, m.start() - 40), m.start())
        # A card number is 13-19 digits passing Luhn; after "card", any 13 digits or more
        # (a recogniser that repeats a digit must not leak the rest); and 13-19 digits that
        # nothing introduced as a reference (a misheard card number fails Luhn but is still
        # mostly the card's digits).
        card_length = 13 <= len(digits) <= 19
        if not (told or (card_length and (luhn(digits) or reference is None))):
            return m.group()
        masked = MASK + digits[-4:]
        found.append(Found(CARD_KEY, masked, True, masked))
        return masked

    return _CARD.sub(card, text)


def _mask_secrets(text: str, found: list[Found]) -> str:
    out: list[str] = []
    pos = 0
    for trig in _SECRET_TRIGGER.finditer(text):
        if trig.start() < pos:
            continue
        window_end = min(len(text), trig.end() + 40)
        value = _SECRET_VALUE.search(text, trig.end(), window_end)
        if value is None:
            continue
        out.append(text[pos:value.start()])
        out.append(MASK)
        said = fold(trig.group())
        key = "card_expiry" if said.startswith(("exp", "cad", "ven", "fecha")) else (
            "pin" if "pin" in said.split() else "security_code")
        found.append(Found(key, MASK, True, MASK))
        pos = value.end()
    out.append(text[pos:])
    text = "".join(out)

    def password(m: re.Match[str]) -> str:
        found.append(Found("password", MASK, True, MASK))
        return m.group()[: m.start(2) - m.start()] + MASK

    return _PASSWORD.sub(password, text)


@functools.lru_cache(maxsize=4096)
def mask_text(text: str, lang: str | None = None) -> str:
    """`text` with spoken numbers as digits and card numbers, security codes, PINs, expiry
    dates and passwords masked (what an agent's edit or a summary may show)."""
    return _mask_secrets(_mask_cards(normalise(text, lang), []), [])


# -- extraction ------------------------------------------------------------------------------

_REFERENCES: list[tuple[str, str]] = [
    ("tracking_number", r"tracking|seguimiento|env[ií]o"),
    ("invoice_number", r"invoice|bill|factura|recibo"),
    ("account_number", r"account|customer number|client number|member(?:ship)? number"
                       r"|cuenta|n[uú]mero de (?:cliente|socio)|contrato|contract"),
    ("ticket_number", r"ticket|case number|incident|incidencia|n[uú]mero de caso|caso"),
    ("order_number", r"order|pedido|orden|compra|purchase"),
    ("reference_number", r"reference|\bref\b|confirmation|booking|reservation|claim"
                         r"|referencia|confirmaci[oó]n|reserva|localizador|reclamaci[oó]n"),
]
# The reference itself: digits (3+) or a short letter prefix and digits, "AB-1234".
_REF_VALUE = r"(?P<v>(?:[A-Za-z]{1,4}-?)?\d{3,}(?:-\d+)*)(?![\d*])"
_REF = [(key, re.compile(rf"\b(?:{words})\w*(?P<gap>(?:\W+(?!\d)(?!\*)\w+){{0,4}}?)\W+{_REF_VALUE}",
                         re.IGNORECASE)) for key, words in _REFERENCES]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}")
# "john dot smith at example dot com" / "juan punto perez arroba ejemplo punto es"
_SPOKEN_EMAIL = re.compile(
    r"\b([a-z0-9]+(?:(?:\s+(?:dot|punto|underscore|dash|guion)\s+|[._-])[a-z0-9]+)*)"
    r"\s+(?:at|arroba)\s+"
    r"((?:[a-z0-9-]+(?:\s+(?:dot|punto)\s+|\.))+(?:com|net|org|edu|gov|info|biz|io|co|es|uk"
    r"|us|eu|de|fr|it|pt|mx|ar|cl|pe|ca|cat|me|app|dev))\b", re.IGNORECASE)
_JOIN = {"dot": ".", "punto": ".", "underscore": "_", "dash": "-", "guion": "-"}

_CURRENCIES = [
    ("USD", r"\$|usd|dollars?|bucks|d[oó]lar(?:es)?"),
    ("EUR", r"€|eur|euros?"),
    ("GBP", r"£|gbp|pounds?|libras?"),
]
_CUR_WORDS = "|".join(f"(?P<{c}>{w})" for c, w in _CURRENCIES)
_AMOUNT_AFTER = re.compile(
    rf"(?<![\w.,])(?P<n>\d+(?:[.,]\d{{1,2}})?)\s*(?:{_CUR_WORDS})(?![\w])"
    r"(?:\s*(?:and|con|y)\s+(?P<c>\d{1,2})(?:\s*(?:cents?|c[eé]ntimos?))?)?", re.IGNORECASE)
_AMOUNT_BEFORE = re.compile(r"(?P<sym>[$€£])\s?(?P<n>\d+(?:[.,]\d{1,2})?)")
_SYMBOL = {"$": "USD", "€": "EUR", "£": "GBP"}

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "primero": 1, "primer": 1,
}
_MONTH = "(?P<m>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_DAY = r"(?P<d>\d{1,2}|" + "|".join(_ORDINALS) + r")(?:st|nd|rd|th|º)?"
_YEAR = r"(?:,?\s+(?:de(?:l)?\s+)?(?P<y>\d{4}))?"
_DATES = [
    re.compile(rf"\b{_DAY}\s+(?:of\s+|de\s+)?{_MONTH}\b{_YEAR}", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+(?:the\s+)?{_DAY}\b{_YEAR}", re.IGNORECASE),
]
_ISO_DATE = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")
_SLASH_DATE = re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{2}|\d{4})\b")
_RELATIVE = re.compile(
    r"\b(the day before yesterday|day after tomorrow|yesterday|today|tomorrow"
    r"|anteayer|pasado mañana|ayer|hoy|(?<!la )(?<!las )mañana)\b", re.IGNORECASE)
_RELATIVE_DAYS = {
    "the day before yesterday": -2, "anteayer": -2, "yesterday": -1, "ayer": -1,
    "today": 0, "hoy": 0, "tomorrow": 1, "mañana": 1, "day after tomorrow": 2,
    "pasado mañana": 2,
}


def _day(text: str) -> int:
    low = fold(text)
    return _ORDINALS[low] if low in _ORDINALS else int(low)


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def _dates(text: str, today: date | None, lang: str | None, out: list[Found]) -> None:
    taken: list[tuple[int, int]] = []
    year = today.year if today is not None else None
    for pattern in _DATES:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            y = int(m["y"]) if m["y"] else year
            day, month = _day(m["d"]), _MONTHS[fold(m["m"])]
            value = _iso(y, month, day) if y is not None else f"--{month:02d}-{day:02d}"
            if value is not None:
                taken.append((m.start(), m.end()))
                out.append(Found("date", value, said=m.group()))
    for m in _ISO_DATE.finditer(text):
        iso = _iso(int(m["y"]), int(m["m"]), int(m["d"]))
        if iso is not None:
            out.append(Found("date", iso, said=m.group()))
    for m in _SLASH_DATE.finditer(text):
        a, b = int(m["a"]), int(m["b"])
        month, day = (b, a) if lang == "es" or a > 12 else (a, b)
        y = int(m["y"]) + (2000 if len(m["y"]) == 2 else 0)
        iso = _iso(y, month, day)
        if iso is not None:
            out.append(Found("date", iso, said=m.group()))
    if today is not None:
        for m in _RELATIVE.finditer(text):
            shift = _RELATIVE_DAYS[m.group().lower()]
            out.append(Found("date", (today + timedelta(days=shift)).isoformat(), said=m.group()))


def _amounts(text: str, out: list[Found]) -> None:
    for m in _AMOUNT_AFTER.finditer(text):
        cur = next(c for c, _ in _CURRENCIES if m[c])
        number = m["n"].replace(",", ".")
        if m["c"] and "." not in number:
            number = f"{number}.{int(m['c']):02d}"
        out.append(Found("amount", f"{float(number):.2f} {cur}", said=m.group()))
    for m in _AMOUNT_BEFORE.finditer(text):
        number = m["n"].replace(",", ".")
        out.append(Found("amount", f"{float(number):.2f} {_SYMBOL[m['sym']]}", said=m.group()))


def _spoken_emails(text: str) -> str:
    def join(m: re.Match[str]) -> str:
        def glue(part: str) -> str:
            return re.sub(r"\s+(dot|punto|underscore|dash|guion)\s+",
                          lambda w: _JOIN[w.group(1).lower()], part, flags=re.IGNORECASE)
        return f"{glue(m.group(1))}@{glue(m.group(2))}".lower()

    return _SPOKEN_EMAIL.sub(join, text)


_MAYBE_PHONE = re.compile(r"\d(?:[\s().-]*\d){6,}")


def _phones(text: str, region: str | None, out: list[Found]) -> None:
    if _MAYBE_PHONE.search(text) is None:  # the matcher is slow; most lines hold no number
        return
    for match in phonenumbers.PhoneNumberMatcher(text, region or "US"):
        number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        out.append(Found("phone", number, said=match.raw_string))


def _references(text: str, out: list[Found]) -> None:
    taken: list[tuple[int, int]] = []
    for key, pattern in _REF:
        for m in pattern.finditer(text):
            a, b = m.start("v"), m.end("v")
            if any(x < b and a < y for x, y in taken):
                continue
            gap = fold(m["gap"] or "")
            if re.search(r"\b(phone|telefono|movil|mobile|cell)\b", gap):
                continue
            taken.append((a, b))
            value = m["v"].upper() if re.search(r"[A-Za-z]", m["v"]) else m["v"]
            out.append(Found(key, value, said=m.group()))


@functools.lru_cache(maxsize=4096)
def scan(
    text: str, *, today: date | None = None, region: str | None = None,
    lang: str | None = None,
) -> Scan:
    """The facts in one piece of text a customer said or wrote (see the module doc).

    `today` resolves "yesterday" and dates without a year; `region` (ISO 3166) reads
    national phone numbers; `lang` is detected when not given. Results are cached (pure
    function): remaking a call's summary on each new segment scans only the new one.
    """
    lang = lang or language(text)
    found: list[Found] = []
    clean = normalise(text, lang)
    clean = _mask_cards(clean, found)
    # A card the store masked already (cases.redact) is still a card the customer gave.
    found.extend(Found(CARD_KEY, m.group(), True, m.group())
                 for m in _MASKED_CARD.finditer(clean))
    clean = _mask_secrets(clean, found)
    clean = _spoken_emails(clean)
    for m in _EMAIL.finditer(clean):
        found.append(Found("email", m.group().lower(), said=m.group()))
    without_emails = _EMAIL.sub(" ", clean)
    refs: list[Found] = []
    _references(without_emails, refs)
    found.extend(refs)
    # A reference's digits are not also a phone number.
    ref_digits = {f.value for f in refs}
    phones: list[Found] = []
    _phones(without_emails, region, phones)
    found.extend(p for p in phones
                 if re.sub(r"\D", "", p.said) not in ref_digits and MASK not in p.said)
    _amounts(without_emails, found)
    _dates(without_emails, today, lang, found)
    return Scan(tuple(_unique(found)), clean, lang)


def _unique(found: list[Found]) -> list[Found]:
    seen: set[tuple[str, str]] = set()
    out: list[Found] = []
    for f in found:
        if (f.key, f.value) not in seen:
            seen.add((f.key, f.value))
            out.append(f)
    return out
