"""Agent assist: a knowledge base of Markdown articles, searched from what the caller says.

    kb = KnowledgeBase(Path("articles"))       # a folder of *.md files, reloaded on change
    kb.search("I would like a refund for my order")  -> [Suggestion(article, phrase, ...)]
    kb.add("refunds", "# Refunds\\n...")          # written into the folder, indexed at once

A leaf package: it imports nothing of the project but common/ (tests/test_layering.py); the
composition root feeds it caller segments and relays its suggestions to the desk.
"""

from assist.articles import Article, ArticleError, parse_article
from assist.index import KnowledgeBase, Suggestion

__all__ = ["Article", "ArticleError", "KnowledgeBase", "Suggestion", "parse_article"]
