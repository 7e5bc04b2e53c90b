"""HTTP API of agent assist's knowledge base (assist.index).

    GET  /api/assist/search?q=TEXT    agent   {"suggestions": [{slug, title, url, snippet,
                                              phrase, score, language}]} (best 3; `limit` 1-10)
    GET  /api/assist/articles         agent   {"articles": [{slug, title, url, language}],
                                              "problems": ["file.md: why it was left out"]}
    GET  /api/assist/articles/{slug}  agent   one article with its Markdown `body`
    POST /api/assist/articles         admin   {"slug": "refunds", "markdown": "# Refunds..."}:
                                              written to the folder and searchable at once;
                                              201 with the article, 400 naming the bad field

The folder is also reloaded by itself when its files change (assist.index.KnowledgeBase).
Errors are the case API's JSON `{"error": {"code", "message", "where"?}}`.
"""

from __future__ import annotations

from aiohttp import web

from assist.articles import ArticleError
from assist.index import KnowledgeBase
from web.auth import Role, require
from web.case_http import body_fields, error

KNOWLEDGE_BASE = web.AppKey("assist_knowledge_base", KnowledgeBase)
MAX_QUERY = 2000


async def search(request: web.Request) -> web.Response:
    q = request.query.get("q", "")
    if not q.strip():
        return error(400, "invalid_input", "q (what to search for) is missing", "q")
    if len(q) > MAX_QUERY:
        return error(400, "invalid_input", f"q is longer than {MAX_QUERY} characters", "q")
    raw = request.query.get("limit", "3")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10:
        return error(400, "invalid_input", "limit must be a number 1-10", "limit")
    found = request.app[KNOWLEDGE_BASE].search(q, int(raw))
    return web.json_response({"suggestions": [s.view() for s in found]})


async def list_articles(request: web.Request) -> web.Response:
    kb = request.app[KNOWLEDGE_BASE]
    kb.refresh()
    return web.json_response({"articles": [a.view() for a in kb.articles],
                              "problems": kb.problems})


async def get_article(request: web.Request) -> web.Response:
    article = request.app[KNOWLEDGE_BASE].get(request.match_info["slug"])
    if article is None:
        return error(404, "not_found", "no such article")
    return web.json_response({**article.view(), "body": article.body})


async def add_article(request: web.Request) -> web.Response:
    body = await body_fields(request, ("slug", "markdown"))
    if isinstance(body, web.Response):
        return body
    for key in ("slug", "markdown"):
        if not isinstance(body.get(key), str):
            return error(400, "invalid_input", f"{key} must be a string", key)
    try:
        article = request.app[KNOWLEDGE_BASE].add(body["slug"], body["markdown"])
    except ArticleError as exc:
        where = "slug" if "article name" in str(exc) else "markdown"
        return error(400, "invalid_article", str(exc), where)
    except OSError as exc:
        return error(503, "storage_unavailable",
                     f"the articles folder cannot be written: {exc.strerror}")
    return web.json_response(article.view(), status=201)


def add_assist_routes(app: web.Application, kb: KnowledgeBase) -> None:
    """Mount the knowledge-base API on `app` with `kb` under a typed key."""
    app[KNOWLEDGE_BASE] = kb
    require(app, app.router.add_get("/api/assist/search", search), Role.AGENT)
    require(app, app.router.add_get("/api/assist/articles", list_articles), Role.AGENT)
    require(app, app.router.add_get("/api/assist/articles/{slug}", get_article), Role.AGENT)
    require(app, app.router.add_post("/api/assist/articles", add_article), Role.ADMIN)
