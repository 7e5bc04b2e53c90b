"""The knowledge base: articles from a folder, ranked by BM25 against what a caller said.

Ranking is SQLite's FTS5 `bm25()` over pre-stemmed text, chosen over `rank-bm25` because it
is built into Python's sqlite3 (no dependency), weights columns (a hit in the title counts
3x one in the body), and takes one article more without rebuilding. FTS5's own stemmer
(porter) is English only, so words are stemmed here with Snowball (`snowballstemmer`, pure
Python): each article in its own language, a caller's words in English and Spanish both
(which they speak is not known while they speak). Everyday words ("I", "would", "like",
"my", "quiero", "mi"...) are dropped first: in a short utterance they would outweigh the one
word that matters.

The folder is the truth: `refresh()` compares its files' names, sizes and times with the
last load (at most every `check_every` seconds) and rebuilds the index when they changed;
`add()` writes a file there and rebuilds. A file that cannot be read as an article is left
out and named in `problems`, and the others are served.

Searches run on the event loop: the index lives in memory and a query over a few hundred
articles takes well under a millisecond.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import snowballstemmer  # type: ignore[import-untyped]

from assist.articles import Article, ArticleError, check_slug, parse_article

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOP_TEXT = """
a an the i me my mine we our you your he she it its they them their is are was were be been
am do does did have has had would could should will shall can may might must to of in on at
for from with by about as and or but if so not no yes this that these those there here what
which who whom how when where why just like want wanted need please hello hi hey thanks
thank okay ok um uh yeah well get got some any all also very really one
yo me mi mis tu tus su sus el la los las un una unos unas de del al en con por para que
quiero quisiera necesito es son fue ser estar esta este esto eso hola gracias por favor si
no y o pero como cuando donde muy mas menos ya le les lo se nos
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
MIN_WORD = 2
TITLE_WEIGHT = 3.0
SNIPPET_CHARS = 180
PHRASE_WORDS = 12
STEMMERS = {"en": "english", "es": "spanish"}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _plain(stem: str) -> str:
    # Accents off after stemming: ASR writes "reembolso" and "reembolsó" alike or not.
    return "".join(c for c in unicodedata.normalize("NFD", stem)
                   if unicodedata.category(c) != "Mn")


class _Stemmers:
    def __init__(self) -> None:
        self._by_lang = {k: snowballstemmer.stemmer(v) for k, v in STEMMERS.items()}

    def stems(self, word: str, languages: Iterable[str]) -> set[str]:
        return {_plain(self._by_lang[lang].stemWord(word)) for lang in languages}


def words(text: str) -> list[str]:
    """The words of `text` that can carry meaning (folded, no everyday words)."""
    return [w for w in _WORD.findall(_fold(text)) if len(w) >= MIN_WORD and w not in STOP_WORDS]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An article for what was said: `phrase` is the part of the caller's words it matched,
    `snippet` the article's text around the match. Both are personal data / content: keep
    them out of logs."""

    article: Article
    score: float
    phrase: str
    snippet: str

    def view(self) -> dict[str, object]:
        return {**self.article.view(), "score": round(self.score, 3),
                "phrase": self.phrase, "snippet": self.snippet}


@dataclass
class _Loaded:
    db: sqlite3.Connection
    articles: dict[str, Article]
    stems: dict[str, set[str]]  # slug -> stems of its title and body
    problems: list[str] = field(default_factory=list)


class KnowledgeBase:
    """Articles from `folder` (*.md), searched with BM25; see the module docstring."""

    def __init__(
        self, folder: Path, *, base_url: str = "/kb", check_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self.base_url = base_url
        self.check_every = check_every
        self._clock = clock
        self._stemmers = _Stemmers()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked = float("-inf")
        self._loaded = self._build([])
        self.reloads = 0
        self.refresh(force=True)

    # -- the folder ---------------------------------------------------------------------------

    @property
    def articles(self) -> list[Article]:
        return sorted(self._loaded.articles.values(), key=lambda a: a.slug)

    @property
    def problems(self) -> list[str]:
        """Files left out at the last load, each with why (file name and reason only)."""
        return list(self._loaded.problems)

    def get(self, slug: str) -> Article | None:
        self.refresh()
        return self._loaded.articles.get(slug)

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        try:
            entries = [(p.name, p.stat()) for p in self.folder.glob("*.md") if p.is_file()]
        except OSError:
            return ()
        return tuple(sorted((n, s.st_mtime_ns, s.st_size) for n, s in entries))

    def refresh(self, *, force: bool = False) -> bool:
        """Reload when the folder changed (checked at most every `check_every` s); True if
        it reloaded."""
        now = self._clock()
        if not force and now - self._checked < self.check_every:
            return False
        self._checked = now
        signature = self._scan()
        if not force and signature == self._signature:
            return False
        self._signature = signature
        articles: list[Article] = []
        problems: list[str] = []
        for name, _, _ in signature:
            path = self.folder / name
            try:
                text = path.read_text(encoding="utf-8")
                articles.append(parse_article(name[:-3], text, base_url=self.base_url,
                                              where=str(path)))
            except (OSError, UnicodeDecodeError, ArticleError) as exc:
                problems.append(f"{name}: {exc}")
        loaded = self._build(articles)
        loaded.problems = problems
        old, self._loaded = self._loaded, loaded
        old.db.close()
        self.reloads += 1
        for problem in problems:
            log.warning("assist: article left out: %s", problem)
        log.info("assist: %d articles loaded from %s", len(articles), self.folder)
        return True

    def add(self, slug: str, markdown: str) -> Article:
        """Check `markdown` as an article, write it to the folder as `{slug}.md` (replacing
        one of that name) and index it now. Raises ArticleError for a bad article."""
        check_slug(slug)
        article = parse_article(slug, markdown, base_url=self.base_url)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{slug}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(markdown)
            os.replace(tmp, self.folder / f"{slug}.md")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.refresh(force=True)
        return article

    # -- the index ----------------------------------------------------------------------------

    def _article_stems(self, text: str, language: str) -> list[str]:
        out: list[str] = []
        for w in words(text):
            out.extend(self._stemmers.stems(w, (language,)))
        return out

    def _build(self, articles: list[Article]) -> _Loaded:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE kb USING fts5(slug UNINDEXED, title, body, "
                   "tokenize='unicode61 remove_diacritics 2')")
        stems: dict[str, set[str]] = {}
        for a in articles:
            title = self._article_stems(a.title, a.language)
            body = self._article_stems(a.body, a.language)
            stems[a.slug] = {*title, *body}
            db.execute("INSERT INTO kb (slug, title, body) VALUES (?, ?, ?)",
                       (a.slug, " ".join(title), " ".join(body)))
        return _Loaded(db, {a.slug: a for a in articles}, stems)

    def search(self, text: str, limit: int = 3) -> list[Suggestion]:
        """The best `limit` articles for `text` (what the caller said), best first; none
        when no meaningful word of it is in any article."""
        self.refresh()
        heard = words(text)
        query_stems = sorted({s for w in heard for s in self._stemmers.stems(w, STEMMERS)
                              if s})
        if not query_stems or not self._loaded.articles:
            return []
        query = " OR ".join('"' + s.replace('"', "") + '"' for s in query_stems)
        rows = self._loaded.db.execute(
            "SELECT slug, bm25(kb, 0.0, ?, 1.0) FROM kb WHERE kb MATCH ? "
            "ORDER BY bm25(kb, 0.0, ?, 1.0) LIMIT ?",
            (TITLE_WEIGHT, query, TITLE_WEIGHT, limit),
        ).fetchall()
        out: list[Suggestion] = []
        for slug, rank in rows:
            article = self._loaded.articles[slug]
            hits = self._loaded.stems[slug]
            out.append(Suggestion(article, -float(rank), self._phrase(text, hits),
                                  self._snippet(article, hits)))
        return out

    def _matches(self, word: str, hits: set[str]) -> bool:
        w = _fold(word)
        return (w not in STOP_WORDS and len(w) >= MIN_WORD
                and bool(self._stemmers.stems(w, STEMMERS) & hits))

    def _phrase(self, text: str, hits: set[str]) -> str:
        """The caller's words from the first to the last that matched (at most
        PHRASE_WORDS words from the first)."""
        spoken = text.split()
        found = [i for i, tok in enumerate(spoken)
                 if any(self._matches(w, hits) for w in _WORD.findall(tok))]
        if not found:
            return ""
        first = found[0]
        last = max(i for i in found if i < first + PHRASE_WORDS)
        return " ".join(spoken[first : last + 1]).strip(" ,.;:!?")

    def _snippet(self, article: Article, hits: set[str]) -> str:
        """The first paragraph of the body (not the title) with a matching word, cut short."""
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", article.body)
                      if p.strip() and not p.lstrip().startswith("#")]
        chosen = next((p for p in paragraphs
                       if any(self._matches(w, hits) for w in _WORD.findall(p))),
                      paragraphs[0] if paragraphs else "")
        flat = " ".join(chosen.split())
        return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"
