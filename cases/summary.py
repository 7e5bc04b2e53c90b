"""The interaction summary: what a call or conversation was about, made offline from what
is stored on it, deterministic, cheap enough to rerun on every final transcript segment.

`summarise(record)` reads plain data (`InteractionRecord`: segments, IVR inputs, messages,
the agent's notes) and returns a `Summary`:

- reason: the IVR path (menu choices, queue) and the customer's first statements, with
  key phrases from YAKE (a statistical keyword extractor, pure Python, no model);
- facts: what the customer gave (`cases.facts`), each with its source (second of the call,
  IVR step, message id) and language; IVR inputs with a variable name are facts under that
  name; sensitive values masked (a `sensitive` IVR step's value is never read);
- actions: the wrap-up disposition and notes, and what the agent promised ("I will...",
  "le enviaremos...");
- next steps and the outcome.

Every text in it went through `cases.facts` masking, so no card number, security code or
sensitive IVR value reaches the summary. `Summary.to_json()` is what the interaction stores;
the agent may edit `text`, `next_steps` and `outcome` (kept when the summary is remade).
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cases.facts import MASK, Found, language, mask_text, scan

VERSION = 1
# The customer's first statements: how many, and how long each may be.
_REASON_STATEMENTS = 2
_STATEMENT_CHARS = 240
# Keyword extraction reads the customer's opening only (the reason), bounded for speed.
_KEYWORD_CHARS = 600
_KEYWORDS = 5
# How much of one message is read for facts (an email's quoted thread is not the customer).
_MESSAGE_CHARS = 4000
# Fillers that open a call and say nothing about why.
_FILLER = re.compile(
    r"^(?:hi|hello|hey|yes|yeah|no|ok(?:ay)?|good (?:morning|afternoon|evening)|thanks?"
    r"|thank you|hola|s[ií]|buenos d[ií]as|buenas(?: tardes| noches)?|vale|gracias|bueno|eh|um"
    r"|uh|oh|right|sure)\b[\s,.!?]*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PROMISE = re.compile(
    r"\b(i will|i'll|we will|we'll|i am going to|i'm going to|we are going to|we're going to"
    r"|you will (?:receive|get|see|have)|you'll (?:receive|get|see|have)|i've (?:sent|issued|"
    r"booked|scheduled|arranged)|i have (?:sent|issued|booked|scheduled|arranged)"
    r"|le (?:enviaremos|llamaremos|mandaremos|devolveremos)|te (?:enviaremos|llamaremos|"
    r"mandaremos|devolveremos)|vamos a|voy a|recibir[aá]s?|le he enviado|te he enviado"
    r"|hemos (?:enviado|emitido|programado))\b", re.IGNORECASE)
_NEXT_STEP = re.compile(
    r"\b(call (?:you |them )?back|callback|follow[- ]up|next step|pending|waiting for"
    r"|to do|todo|escalat\w+|will (?:call|email|text|send)|llamar de nuevo|devolver la llamada"
    r"|seguimiento|pendiente|escalad\w+)\b", re.IGNORECASE)
_LABELS = {
    "en": {"reason": "Reason", "ivr": "IVR", "facts": "Facts", "agent": "Agent",
           "promised": "Promised", "next": "Next steps", "outcome": "Outcome"},
    "es": {"reason": "Motivo", "ivr": "IVR", "facts": "Datos", "agent": "Agente",
           "promised": "Compromisos", "next": "Próximos pasos", "outcome": "Resultado"},
}
# Notes a system wrote (privacy gaps): not the agent's words.
SYSTEM_AUTHORS = frozenset({"privacy", "system"})
EDITABLE = ("text", "next_steps", "outcome")


@dataclass(frozen=True)
class Segment:
    """A final piece of transcript: who, from when to when (seconds from the start), what."""

    speaker: str
    start: float
    end: float
    text: str
    # The language it was recognised in (common.languages), None when the engine did not say.
    language: str | None = None


@dataclass(frozen=True)
class IvrInput:
    """An IVR input or step as stored (`value` already masked when `sensitive`)."""

    kind: str
    step: str | None
    step_index: int | None
    value: Any
    sensitive: bool
    second: float | None = None


@dataclass(frozen=True)
class TextMessage:
    """A chat line, SMS, WhatsApp message or email of a text interaction."""

    id: int
    direction: str
    body: str
    second: float | None = None
    subject: str | None = None


@dataclass(frozen=True)
class AgentNote:
    """A note on the case written during or after the interaction (a wrap-up)."""

    author: str
    text: str


@dataclass(frozen=True)
class InteractionRecord:
    """Everything the summary reads about one interaction, as plain data."""

    interaction_id: int
    channel: str
    started_at: datetime | None = None
    agent: str | None = None
    outcome: str | None = None
    ended: bool = False
    segments: tuple[Segment, ...] = ()
    ivr: tuple[IvrInput, ...] = ()
    messages: tuple[TextMessage, ...] = ()
    notes: tuple[AgentNote, ...] = ()


@dataclass(frozen=True)
class FactSource:
    """Where a fact was given: the interaction and the second of the call, the IVR step or
    the message."""

    interaction_id: int
    origin: str  # "ivr", "speech", "message"
    second: float | None = None
    ivr_step: str | None = None
    message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"interaction_id": self.interaction_id, "origin": self.origin,
                "second": self.second, "ivr_step": self.ivr_step,
                "message_id": self.message_id}


@dataclass(frozen=True)
class Fact:
    """One fact with its source and language; `value` is masked when `masked`."""

    key: str
    value: str
    source: FactSource
    masked: bool = False
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "masked": self.masked,
                "language": self.language, "source": self.source.to_json()}


@dataclass
class Summary:
    """The summary of one interaction (see the module doc); `to_json` is what is stored."""

    interaction_id: int
    channel: str
    language: str | None
    ivr_path: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    disposition: str | None = None
    notes: str | None = None
    promises: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    outcome: str | None = None
    in_progress: bool = False
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "interaction_id": self.interaction_id,
            "channel": self.channel,
            "language": self.language,
            "reason": {"ivr_path": self.ivr_path, "statements": self.statements,
                       "keywords": self.keywords},
            "facts": [f.to_json() for f in self.facts],
            "actions": {"disposition": self.disposition, "notes": self.notes,
                        "promises": self.promises},
            "next_steps": self.next_steps,
            "outcome": self.outcome,
            "in_progress": self.in_progress,
            "text": self.text,
            "edited": None,
        }


# -- the parts -------------------------------------------------------------------------------

def _second(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ivr_path(ivr: tuple[IvrInput, ...]) -> list[str]:
    """Menu choices and the queue, as "menu: 2", "queue: billing" (never a sensitive value,
    never the value of a gather that sets a variable: that is a fact)."""
    path: list[str] = []
    for item in ivr:
        value = item.value if isinstance(item.value, dict) else {}
        where = item.step or (f"step {item.step_index}" if item.step_index is not None else "ivr")
        if item.kind in ("digits", "speech") and "variable" not in value:
            if item.sensitive:
                path.append(f"{where}: {MASK}")
                continue
            said = value.get("match") or value.get("digits") or value.get("text")
            if isinstance(said, str) and said:
                path.append(f"{where}: {mask_text(said)[:60]}")
        elif item.kind == "queue" and isinstance(value.get("queue"), str):
            path.append(f"queue: {value['queue']}")
        elif item.kind == "callback":
            path.append("callback requested")
        elif item.kind == "voicemail":
            path.append("voicemail left")
    return path


def _ivr_facts(record: InteractionRecord) -> list[Fact]:
    """IVR inputs with a variable name are facts under that name (masked when sensitive)."""
    facts: list[Fact] = []
    for item in record.ivr:
        value = item.value
        pairs: list[tuple[str, Any]] = []
        if item.kind in ("digits", "speech") and isinstance(value, dict) and value.get("variable"):
            got = value.get("digits") if item.kind == "digits" else (
                value.get("match") or value.get("text"))
            name = str(value["variable"])
            if name == MASK:
                # A sensitive step's input is masked whole, its variable's name too: the
                # step's label names the fact instead.
                name = _key(item.step or "") or "sensitive_input"
            if value.get("outcome", "match") in ("match", MASK):
                pairs.append((name, got))
        elif item.kind == "variable" and isinstance(value, dict):
            pairs.extend((str(k), v) for k, v in value.items())
        for key, got in pairs:
            if got is None or isinstance(got, dict | list) or key in ("caller", "dialed"):
                continue
            text = str(got)
            masked = item.sensitive or text == MASK
            if masked:
                text = MASK
            else:
                # Whatever a flow stored, a card number in it is still masked.
                text = mask_text(text)
                masked = MASK in text
            source = FactSource(record.interaction_id, "ivr", _second(item.second),
                                item.step or (str(item.step_index) if item.step_index is not None
                                              else None))
            facts.append(Fact(key[:64], text[:500], source, masked, None))
    return facts


def _key(label: str) -> str | None:
    """`label` as a fact key (a-z, 0-9, _), or None when nothing is left of it."""
    key = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_")[:64]
    return key if key and key[0].isalpha() else None


def _sentences(text: str) -> list[str]:
    """Sentences end at . ! ? followed by a space (not inside an email or 120.50)."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _statement(text: str) -> str | None:
    """A statement worth showing as the reason: fillers dropped, at least three words."""
    rest = text
    while True:
        stripped = _FILLER.sub("", rest, count=1)
        if stripped == rest:
            break
        rest = stripped
    if len(rest.split()) < 3:
        return None
    return rest[:_STATEMENT_CHARS].strip()


@functools.lru_cache(maxsize=4)
def _extractor(lang: str) -> Any:
    import yake  # type: ignore[import-untyped]

    return yake.KeywordExtractor(lan=lang, n=3, top=_KEYWORDS * 2, dedupLim=0.7)


# One-word key phrases that say nothing about why (YAKE's stop lists miss call talk).
_GENERIC = frozenset((
    "call", "calling", "called", "back", "number", "hello", "hi", "thanks", "please", "today",
    "yesterday", "tomorrow", "hola", "llamo", "llamar", "gracias", "número", "numero", "favor",
    "buenos", "buenas", "días", "tardes", "quiero", "dollars", "cents", "euros", "euro",
))
_YAKE_LOCK = threading.Lock()
_WARMING: list[threading.Thread] = []


def warm_up() -> None:
    """Import YAKE and build its extractors (~0.7 s once per process), so the first call's
    summary does not pay for it."""
    for lang in ("en", "es"):
        keywords("warming up the keyword extractor for summaries", lang)


def warm_up_in_background() -> None:
    """`warm_up` on a daemon thread, once per process (the case store starts it on open)."""
    if not _WARMING:
        thread = threading.Thread(target=warm_up, name="summary-warm-up", daemon=True)
        _WARMING.append(thread)
        thread.start()


@functools.lru_cache(maxsize=1024)
def _keywords(text: str, lang: str | None) -> tuple[str, ...]:
    return tuple(_extract(text, lang))


def keywords(text: str, lang: str | None) -> list[str]:
    """Up to five key phrases of `text` (YAKE), without digits or masks, most relevant
    first. Cached: once a call's opening is complete, refreshes reuse its key phrases."""
    return list(_keywords(text, lang))


def _extract(text: str, lang: str | None) -> list[str]:
    if len(text.split()) < 4:
        return []
    with _YAKE_LOCK:  # one extractor per language, shared across the store's threads
        found = _extractor(lang or "en").extract_keywords(text[:_KEYWORD_CHARS])
    out: list[str] = []
    for phrase, _score in found:
        low = phrase.lower()
        if re.search(r"\d|\*|@|\.\w", phrase) or low in _GENERIC \
                or any(low in p.lower() or p.lower() in low for p in out):
            continue
        out.append(phrase)
        if len(out) == _KEYWORDS:
            break
    return out


def _customer_texts(record: InteractionRecord) -> list[tuple[str, FactSource]]:
    """What the customer said or wrote, in order, with where."""
    iid = record.interaction_id
    out: list[tuple[str, FactSource]] = []
    for seg in record.segments:
        if seg.speaker == "caller":
            out.append((seg.text, FactSource(iid, "speech", _second(seg.start))))
    for msg in record.messages:
        if msg.direction == "inbound":
            text = msg.body if not msg.subject else f"{msg.subject}. {msg.body}"
            # An email can be long (quoted threads, signatures): its opening says why.
            text = text[:_MESSAGE_CHARS]
            out.append((text, FactSource(iid, "message", _second(msg.second),
                                         message_id=msg.id)))
    for item in record.ivr:
        if item.kind == "speech" and not item.sensitive and isinstance(item.value, dict) \
                and not item.value.get("variable") and isinstance(item.value.get("text"), str):
            out.append((item.value["text"], FactSource(
                iid, "ivr", _second(item.second), item.step)))
    return out


def _agent_texts(record: InteractionRecord) -> list[str]:
    texts = [s.text for s in record.segments if s.speaker == "agent"]
    texts += [m.body for m in record.messages if m.direction == "outbound"]
    return texts


def _wrapup(notes: tuple[AgentNote, ...]) -> tuple[str | None, str | None]:
    """The disposition and notes of the agent's wrap-up ("Disposition: X.\\nnotes")."""
    disposition: str | None = None
    rest: list[str] = []
    for note in notes:
        if note.author in SYSTEM_AUTHORS:
            continue
        text = note.text.strip()
        m = re.match(r"Disposition:\s*(.+?)\.?(?:\n|$)", text)
        if m:
            disposition = m.group(1).strip()
            text = text[m.end():].strip()
        if text:
            rest.append(text)
    return disposition, ("\n".join(rest) or None)


def _recognised_language(record: InteractionRecord) -> str | None:
    """The language the customer's speech was recognised in (the most segments' language),
    when the recogniser said: it knows better than guessing from a few words of text."""
    counts = Counter(s.language for s in record.segments
                     if s.language and s.speaker == "caller")
    return counts.most_common(1)[0][0] if counts else None


def summarise(
    record: InteractionRecord, *, region: str | None = None, today: date | None = None,
) -> Summary:
    """The summary of one interaction (see the module doc). Pure and deterministic: the same
    record gives the same summary. `region` reads national phone numbers; `today` (default:
    the interaction's start date) resolves "yesterday" and dates without a year."""
    if today is None and record.started_at is not None:
        today = record.started_at.date()
    customer = _customer_texts(record)
    lang = _recognised_language(record) or language(
        " ".join(t for t, _ in customer[:20])) or language(" ".join(_agent_texts(record)[:20]))
    summary = Summary(record.interaction_id, record.channel, lang)
    summary.ivr_path = _ivr_path(record.ivr)
    summary.facts = _ivr_facts(record)
    known = {(f.key, f.value) for f in summary.facts}
    opening: list[str] = []
    for text, source in customer:
        found = scan(text, today=today, region=region, lang=lang)
        for f in found.facts:
            if (f.key, f.value) not in known:
                known.add((f.key, f.value))
                summary.facts.append(_fact(f, source, found.language or lang))
        if len(summary.statements) < _REASON_STATEMENTS and source.origin != "ivr":
            for sentence in _sentences(found.text):
                said = _statement(sentence)
                if said is not None and len(summary.statements) < _REASON_STATEMENTS:
                    summary.statements.append(said)
        if sum(len(t) for t in opening) < _KEYWORD_CHARS:
            opening.append(found.text)
    summary.keywords = keywords(" ".join(opening), lang)
    for text in _agent_texts(record):
        if _PROMISE.search(text):
            for sentence in _sentences(mask_text(text, lang)):
                if _PROMISE.search(sentence) and sentence not in summary.promises:
                    summary.promises.append(sentence[:_STATEMENT_CHARS])
    summary.disposition, summary.notes = _wrapup(record.notes)
    if summary.notes:
        summary.notes = mask_text(summary.notes, lang)
    if summary.disposition:
        summary.disposition = mask_text(summary.disposition, lang)
    summary.next_steps = _next_steps(summary)
    summary.in_progress = not record.ended
    summary.outcome = summary.disposition or record.outcome or (
        "in progress" if not record.ended else None)
    summary.text = render(summary)
    return summary


def _fact(found: Found, source: FactSource, lang: str | None) -> Fact:
    return Fact(found.key, found.value, source, found.masked, lang)


def _next_steps(summary: Summary) -> list[str]:
    steps: list[str] = []
    for line in (summary.notes or "").splitlines():
        for sentence in _sentences(line):
            if _NEXT_STEP.search(sentence) and sentence not in steps:
                steps.append(sentence[:_STATEMENT_CHARS])
    if summary.disposition and _NEXT_STEP.search(summary.disposition):
        steps.append(summary.disposition)
    for promise in summary.promises:
        if promise not in steps:
            steps.append(promise)
    return steps[:6]


_FACT_LABELS = {
    "order_number": "order", "account_number": "account", "tracking_number": "tracking",
    "invoice_number": "invoice", "ticket_number": "ticket", "reference_number": "reference",
    "card_number": "card", "security_code": "security code",
}


_FACT_LABELS_ES = {
    "order_number": "pedido", "account_number": "cuenta", "tracking_number": "seguimiento",
    "invoice_number": "factura", "ticket_number": "incidencia", "reference_number":
    "referencia", "card_number": "tarjeta", "security_code": "código de seguridad",
    "amount": "importe", "date": "fecha", "email": "correo", "phone": "teléfono",
}


def render(summary: Summary) -> str:
    """The summary as the plain text an agent reads, edits and sends on (a few lines, in the
    customer's language where it is Spanish)."""
    labels = _LABELS.get(summary.language or "en", _LABELS["en"])
    lines: list[str] = []
    reason = " ".join(summary.statements)
    if reason or summary.keywords:
        lines.append(f"{labels['reason']}: {reason or ', '.join(summary.keywords)}")
    if summary.ivr_path:
        lines.append(f"{labels['ivr']}: {' > '.join(summary.ivr_path)}")
    if summary.facts:
        names = _FACT_LABELS_ES if summary.language == "es" else _FACT_LABELS
        shown = "; ".join(f"{names.get(f.key, f.key.replace('_', ' '))} {f.value}"
                          for f in summary.facts)
        lines.append(f"{labels['facts']}: {shown}")
    if summary.disposition or summary.notes:
        agent = ". ".join(p for p in (summary.disposition, summary.notes) if p)
        lines.append(f"{labels['agent']}: {agent}")
    if summary.promises:
        lines.append(f"{labels['promised']}: {' '.join(summary.promises)}")
    steps = [s for s in summary.next_steps if s not in summary.promises]
    if steps:
        lines.append(f"{labels['next']}: {' '.join(steps)}")
    if summary.outcome:
        lines.append(f"{labels['outcome']}: {summary.outcome}")
    return "\n".join(lines)


def merged(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The freshly made summary `new`, keeping what an agent edited in `old`."""
    edited = (old or {}).get("edited")
    if not isinstance(edited, dict):
        return new
    out = dict(new)
    for name in edited.get("fields", []):
        if name in EDITABLE and old is not None and name in old:
            out[name] = old[name]
    out["edited"] = edited
    return out


_SHORT_LABELS = {
    "en": ("You told us", "Details", "Next"),
    "es": ("Nos dijo", "Datos", "Siguiente"),
}


def short_text(summary: dict[str, Any], limit: int = 300) -> str:
    """The summary as an outgoing message may carry it (an SMS on handover): the agent's
    edited text when there is one, else the customer's opening statements, the unmasked facts
    and the next step, cut at a word boundary within `limit` characters. Masked facts are
    left out entirely: nothing sensitive, not even its last four digits, goes out."""
    edited = summary.get("edited")
    if isinstance(edited, dict) and "text" in edited.get("fields", []):
        return _cut(str(summary.get("text") or ""), limit)
    said, ref, nxt = _SHORT_LABELS.get(str(summary.get("language") or "en"), _SHORT_LABELS["en"])
    parts: list[str] = []
    reason = summary.get("reason") or {}
    # A statement with anything masked in it stays out whole, as masked facts do.
    statements = [str(s) for s in reason.get("statements") or []
                  if str(s).strip() and MASK not in str(s)]
    if statements:
        parts.append(f"{said}: \u201c{_quoted(statements)}\u201d")
    facts = [f for f in summary.get("facts") or [] if not f.get("masked")
             and MASK not in str(f.get("value"))]
    if facts:
        names = _FACT_LABELS_ES if summary.get("language") == "es" else _FACT_LABELS
        shown = ", ".join(f"{names.get(str(f['key']), str(f['key']).replace('_', ' '))} "
                          f"{f['value']}" for f in facts[:4])
        parts.append(f"{ref}: {shown}")
    steps = summary.get("next_steps") or []
    if steps:
        parts.append(f"{nxt}: {steps[0]}")
    return _cut(". ".join(p.rstrip(".") for p in parts) + ("." if parts else ""), limit)


def _quoted(statements: list[str]) -> str:
    """The customer's opening statements as one quote. A sentence the recogniser cut in two
    (a pause mid-sentence ends an utterance, and each utterance comes back punctuated: "my
    parcel." then "arrived damaged") is put back together where the next part starts in
    lower case; the quote's own last full stop is left to the message around it."""
    out = statements[0].strip()
    for more in statements[1:]:
        more = more.strip()
        # A cut sentence goes on in lower case: its first half loses the stop put after it.
        out = f"{out.rstrip('.') if more[:1].islower() else out} {more}"
    return out.rstrip(".!?")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "\u2026"
