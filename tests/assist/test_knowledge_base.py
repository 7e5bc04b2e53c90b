"""The knowledge base (assist.index) on the demo articles and a temporary folder: what a
caller says finds the right article (English and Spanish, stemmed), the matching phrase is
the caller's own words, the folder is reloaded when it changes, bad files are named and left
out, and `add()` checks before it writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assist.articles import ArticleError, parse_article
from assist.index import KnowledgeBase

DEMO = Path(__file__).resolve().parents[2] / "assist" / "demo"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    folder = tmp_path / "kb"
    shutil.copytree(DEMO, folder)
    return KnowledgeBase(folder, base_url="https://help.example.com/kb", clock=Clock())


def test_a_refund_request_finds_the_refund_article_first(kb: KnowledgeBase) -> None:
    found = kb.search("I would like a refund for my order")
    assert found[0].article.slug == "refunds"
    assert found[0].article.url == "https://help.example.com/kb/refunds"
    assert found[0].phrase == "refund for my order"
    assert "refund" in found[0].snippet.lower()
    assert len(found) <= 3


@pytest.mark.parametrize("said,slug", [
    ("my parcel has not arrived, where is it", "delivery"),
    ("I can't log in, my account is locked", "password"),
    ("there's a charge on my invoice I don't recognise", "billing"),
    ("quiero que me devuelvan el dinero, un reembolso", "reembolsos"),
    ("refunded orders", "refunds"),  # stemmed: refunded ~ refund, orders ~ order
])
def test_what_was_said_finds_its_article(kb: KnowledgeBase, said: str, slug: str) -> None:
    assert kb.search(said)[0].article.slug == slug


def test_everyday_words_find_nothing(kb: KnowledgeBase) -> None:
    assert kb.search("hello, yes, I would like to, um, thank you") == []
    assert kb.search("") == []


def test_the_folder_is_reloaded_when_it_changes(kb: KnowledgeBase) -> None:
    assert kb.search("warranty for a broken blender") == []
    (kb.folder / "warranty.md").write_text(
        "# Warranty\n\nEvery blender has a two-year warranty against faults.\n")
    assert kb.search("warranty for a broken blender") == []  # checked at most every second
    kb._clock.now += 2  # type: ignore[attr-defined]
    assert kb.search("warranty for a broken blender")[0].article.slug == "warranty"
    (kb.folder / "warranty.md").unlink()
    kb._clock.now += 2  # type: ignore[attr-defined]
    assert kb.search("warranty for a broken blender") == []


def test_a_bad_file_is_named_and_the_rest_served(kb: KnowledgeBase) -> None:
    (kb.folder / "broken.md").write_text("no title here\n")
    kb.refresh(force=True)
    assert [p.split(":")[0] for p in kb.problems] == ["broken.md"]
    assert kb.search("refund")[0].article.slug == "refunds"


def test_add_checks_then_writes_and_indexes(kb: KnowledgeBase) -> None:
    with pytest.raises(ArticleError, match="article name"):
        kb.add("../escape", "# X\n\ntext")
    with pytest.raises(ArticleError, match="no title"):
        kb.add("gift-cards", "just text")
    assert not (kb.folder / "gift-cards.md").exists()
    kb.add("gift-cards", "# Gift cards\n\nGift cards never expire and can be topped up.\n")
    assert (kb.folder / "gift-cards.md").exists()
    assert kb.search("does my gift card expire")[0].article.slug == "gift-cards"


def test_front_matter_errors_name_the_line() -> None:
    with pytest.raises(ArticleError, match=r"x.md:2: front matter"):
        parse_article("x", "---\ncolour: red\n---\n# T\n\nbody", base_url="/kb", where="x.md")
    with pytest.raises(ArticleError, match="language 'fr'"):
        parse_article("x", "---\nlanguage: fr\n---\n# T\n\nbody", base_url="/kb")
    a = parse_article("x", "---\nurl: https://h.example/x\n---\n# T\n\nbody", base_url="/kb")
    assert a.url == "https://h.example/x" and a.title == "T"
