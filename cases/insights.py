"""Sentiment and topics of what was said, per segment and per interaction, offline, in English
and Spanish, from lexicons that ship inside installed wheels (nothing is downloaded).

* English: VADER (`vaderSentiment`, MIT): its lexicon and rules (negation, boosters, "but",
  capitals, punctuation); the compound score, -1..1.
* Spanish: the SentiLeak lexicon (`SentiLeak` wheel, installed --no-deps from
  scripts/models.txt: its analyser wants a spaCy model fetched at run time, so only its data
  files are read here): ~2,000 Snowball stems scored -5..5, its boosters and negations,
  applied VADER's way (a booster scales the next sentiment word by 1.5, a negation among
  the three words before flips it), and the sum normalised like VADER's compound
  (x / sqrt(x² + 15)).
* Topics: contact-center topic names (billing, refund, delivery, ...) found by stems in both
  languages (`TOPICS`); the interaction's key phrases come from the summary (YAKE).

A segment in another language, or with no language, is scored with the English lexicon
when it looks English (VADER ignores words it does not know, so Spanish text scores 0).

`interaction_insights` rolls the segments of one interaction up: the sentiment trend (one
point per segment, in time order), each party's mean, the overall mean, and the topics by
how often they came up.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SENTILEAK_PACKAGE = "sentileak"
NEUTRAL = 0.05  # |score| below this is neutral (VADER's own threshold)
BOOST = 1.5
NEGATION_WINDOW = 3

# Topic -> word stems (lowercase, accents folded) in English and Spanish. A stem matches a
# word that starts with it.
TOPICS: dict[str, tuple[str, ...]] = {
    "billing": ("bill", "invoice", "charge", "payment", "pay", "factur", "cobr", "pago",
                "pagar", "recibo", "cargo"),
    "refund": ("refund", "money back", "reimburs", "reembols", "devolucion del dinero",
               "devolver el dinero"),
    "delivery": ("deliver", "shipping", "shipment", "parcel", "package", "tracking",
                 "arriv", "envio", "entrega", "paquete", "pedido", "llega"),
    "cancellation": ("cancel", "unsubscrib", "terminate", "baja", "cancelar", "cancelacion",
                     "anular"),
    "technical": ("not working", "doesn't work", "broken", "error", "internet", "router",
                  "connection", "no funciona", "averia", "conexion", "tecnic"),
    "account": ("account", "password", "login", "log in", "sign in", "cuenta",
                "contrasena", "usuario", "acceso"),
    "complaint": ("complain", "complaint", "unacceptable", "terrible", "queja",
                  "reclamacion", "inaceptable", "fatal"),
}


def fold(text: str) -> str:
    """Lowercase without accents ("Facturación" -> "facturacion")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def topics_of(text: str) -> list[str]:
    """The topic names whose stems `text` contains, in `TOPICS` order."""
    folded = " " + " ".join(_WORD.findall(fold(text))) + " "
    return [name for name, stems in TOPICS.items()
            if any(f" {stem}" in folded for stem in stems)]


class _Spanish:
    """The SentiLeak lexicon, read once from its wheel."""

    def __init__(self) -> None:
        import snowballstemmer  # type: ignore[import-untyped]

        spec = importlib.util.find_spec(SENTILEAK_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise LexiconMissing("the SentiLeak wheel is not installed (scripts/models.txt)")
        data = Path(next(iter(spec.submodule_search_locations))) / "data" / "es"
        self.words = _read_scores(data / "sentiment_words.csv")
        self.boosters = set(_read_scores(data / "boosters.csv"))
        self.negations = set(_read_scores(data / "negations.csv"))
        self.stemmer = snowballstemmer.stemmer("spanish")

    def score(self, text: str) -> float:
        words = _WORD.findall(fold(text))
        stems = [fold(self.stemmer.stemWord(w)) for w in words]
        total = 0.0
        for i, stem in enumerate(stems):
            value = self.words.get(stem)
            if not value:
                continue
            if i > 0 and stems[i - 1] in self.boosters:
                value *= BOOST
            before = stems[max(0, i - NEGATION_WINDOW):i]
            if any(b in self.negations for b in before):
                value = -value
            total += value
        return total / math.sqrt(total * total + 15.0) if total else 0.0


class LexiconMissing(RuntimeError):
    """A lexicon's wheel is not installed."""


def _read_scores(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    with path.open(encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if len(row) >= 2 and row[0].strip():
                out[fold(row[0].strip())] = float(row[1])
    return out


_lock = threading.Lock()
_english: Any = None
_spanish: _Spanish | None = None


def _vader() -> Any:
    global _english
    with _lock:
        if _english is None:
            from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
                SentimentIntensityAnalyzer,
            )

            _english = SentimentIntensityAnalyzer()
        return _english


def _es() -> _Spanish:
    global _spanish
    with _lock:
        if _spanish is None:
            _spanish = _Spanish()
        return _spanish


def sentiment(text: str, language: str | None) -> float:
    """-1 (negative) .. 1 (positive) for `text` in `language` (es; anything else: English)."""
    if not text.strip():
        return 0.0
    if language == "es":
        return round(_es().score(text), 4)
    return round(float(_vader().polarity_scores(text)["compound"]), 4)


@dataclass(frozen=True)
class SegmentInsight:
    """What one segment says about the call."""

    sentiment: float
    topics: list[str]


def analyse(text: str, language: str | None) -> SegmentInsight:
    """Sentiment and topics of one segment's text."""
    return SegmentInsight(sentiment(text, language), topics_of(text))


def label(score: float) -> str:
    """positive, negative or neutral."""
    if score >= NEUTRAL:
        return "positive"
    if score <= -NEUTRAL:
        return "negative"
    return "neutral"


@dataclass(frozen=True)
class ScoredSegment:
    """A segment as the roll-up reads it."""

    speaker: str
    start: float
    sentiment: float | None
    topics: Sequence[str] | None


def interaction_insights(segments: Sequence[ScoredSegment]) -> dict[str, Any] | None:
    """The trend (time order), each party's mean, the overall mean and its label, and the
    topics by count; None when no segment was scored."""
    scored = sorted((s for s in segments if s.sentiment is not None), key=lambda s: s.start)
    if not scored:
        return None
    values = [float(s.sentiment or 0.0) for s in scored]
    parties: dict[str, list[float]] = {}
    for s in scored:
        parties.setdefault(s.speaker, []).append(float(s.sentiment or 0.0))
    counts = Counter(t for s in segments for t in (s.topics or ()))
    mean = sum(values) / len(values)
    return {
        "sentiment": round(mean, 4),
        "label": label(mean),
        "by_speaker": {k: round(sum(v) / len(v), 4) for k, v in sorted(parties.items())},
        "trend": [{"start": round(s.start, 2), "speaker": s.speaker,
                   "sentiment": s.sentiment} for s in scored],
        "topics": [{"topic": t, "count": n} for t, n in counts.most_common()],
    }
