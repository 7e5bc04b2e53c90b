"""Routes of the review pages.

    GET  /review, /review/{id}            the page (agent role; anonymous: to /login): search
                                          and recent recordings, or one recording
    GET  /review/static/{file}            its modules, catalogues and style sheet
    GET  /api/review/recordings/{id}      the recording, its interaction's transcript (times
                                          in seconds of the recording), its QA reviews
    GET  /api/review/recordings/{id}/peaks?n=N   the waveform (`recordings.peaks`)
    GET  /api/review/search?q=WORDS       transcript segments that match, each with the
                                          recording and second it links to
    GET  /api/review/interactions/{id}/qa       the interaction's QA reviews
    POST /api/review/interactions/{id}/qa       {"score": 0-100|null, "notes": "..."}
                                                (supervisor, admin)

Who sees what is the recordings API's rule (`web.recordings_api.RecordingsApi.may_see`): an
agent their own calls, a supervisor their teams' (every call with no teams configured), an
admin all; search applies the same rule to the interactions it looks in. Every request is
written to the recordings' access audit (what, who, the result), the search without its words.

Transcript times: a segment's `start` counts seconds from the call's answer
(`voice.transcription`), and the recorder starts at the answer too (`centralita.recording`),
so a segment's start is its second in the recording, as are the paused spans.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from aiohttp import web

from cases.errors import InvalidInput, NotFound
from cases.review_store import ReviewStore
from cases.transcript_search import Query
from recordings.peaks import MAX_PEAKS, Peaks, PeaksError, peaks
from recordings.storage import RecordingRow
from web.auth import Role, principal, require, require_page
from web.auth.http import json_error
from web.auth.service import Principal
from web.common import add_common_static
from web.jsonbody import JsonBodyError, read_json_object
from web.recordings_api import RecordingsApi

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_PEAKS = 1000
SEARCH_LIMIT = 50
# Waveforms of recently opened recordings (decoding a long call costs ~0.1 s of CPU a minute).
PEAKS_CACHE = 32
_IID = re.compile(r"[0-9]{1,10}$")

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
REVIEW_PAGE: web.AppKey[bytes] = web.AppKey("review_page", bytes)


class ReviewApi:
    """The handlers (see the module doc), over the recordings API (access, audit, files) and
    the review store (segments, search, QA)."""

    def __init__(self, recordings: RecordingsApi, store: ReviewStore) -> None:
        self.recordings = recordings
        self.store = store
        self._peaks: OrderedDict[tuple[str, str, int], Peaks] = OrderedDict()

    # -- who may see an interaction ----------------------------------------------------------
    def agents_visible(self, who: Principal) -> frozenset[str] | None:
        """The agents whose calls `who` may see; None for every one."""
        teams = self.recordings.teams
        if who.role >= Role.ADMIN or (who.role >= Role.SUPERVISOR and not teams.configured):
            return None
        if who.role >= Role.SUPERVISOR:
            return frozenset({who.name}) | teams.agents_of.get(who.name, frozenset())
        return frozenset({who.name})

    def may_see_agent(self, who: Principal, agent: str | None) -> bool:
        agents = self.agents_visible(who)
        return agents is None or (agent is not None and agent in agents)

    # -- one recording -----------------------------------------------------------------------
    async def recording(self, request: web.Request) -> web.Response:
        who, row = await self.recordings._load(request, "read")
        if isinstance(row, web.Response):
            return row
        segments: list[dict[str, Any]] = []
        reviews: list[dict[str, Any]] = []
        if row.interaction_id is not None:
            segments = await self.store.segments(row.interaction_id)
            reviews = await self.store.reviews(row.interaction_id)
        await self.recordings.audit(who, "read", "ok", 200, recording=row)
        return web.json_response({
            "recording": row.to_json(),
            "audio": f"/api/recordings/{row.id}/audio",
            "segments": segments,
            "reviews": reviews,
            "may_review": who.role >= Role.SUPERVISOR and row.interaction_id is not None,
        })

    async def waveform(self, request: web.Request) -> web.Response:
        who, row = await self.recordings._load(request, "waveform")
        if isinstance(row, web.Response):
            return row
        raw = request.query.get("n", str(DEFAULT_PEAKS))
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PEAKS:
            await self.recordings.audit(who, "waveform", "invalid", 400, recording=row)
            return json_error(400, "invalid_query", f"n must be 1..{MAX_PEAKS}",
                              where="query.n")
        if row.deleted_wall is not None:
            await self.recordings.audit(who, "waveform", "gone", 410, recording=row)
            return json_error(410, "deleted", "this recording was deleted")
        try:
            computed = await self._peaks_of(row, int(raw))
        except (OSError, ValueError, PeaksError):
            await self.recordings.audit(who, "waveform", "error", 404, recording=row)
            return json_error(404, "no_file", "the recording's file cannot be read")
        await self.recordings.audit(who, "waveform", "ok", 200, recording=row)
        return web.json_response(computed.to_json())

    async def _peaks_of(self, row: RecordingRow, n: int) -> Peaks:
        # A file still being written changes: cached only once its hash is known.
        key = (row.id, row.sha256 or "", n)
        cached = self._peaks.get(key) if row.sha256 else None
        if cached is not None:
            self._peaks.move_to_end(key)
            return cached
        storage = self.recordings.recordings.storage

        def compute() -> Peaks:
            size = storage.size(row.location)
            return peaks(storage.read(row.location, 0, size), n)

        computed = await asyncio.to_thread(compute)
        if row.sha256:
            self._peaks[key] = computed
            while len(self._peaks) > PEAKS_CACHE:
                self._peaks.popitem(last=False)
        return computed

    # -- search ------------------------------------------------------------------------------
    async def search(self, request: web.Request) -> web.Response:
        who = principal(request)
        try:
            query = Query.parse(request.query.get("q", ""))
        except InvalidInput as exc:
            await self.recordings.audit(who, "search", "invalid", 400)
            return json_error(400, "invalid_query", exc.what, where="query.q")
        hits = await self.store.search(query, agents=self.agents_visible(who),
                                       limit=SEARCH_LIMIT)
        rows: dict[int, RecordingRow | None] = {}
        results = []
        for hit in hits:
            if hit.interaction_id not in rows:
                found = await self.recordings.index.find(interaction_id=hit.interaction_id)
                rows[hit.interaction_id] = next(
                    (r for r in found if r.deleted_wall is None), None)
            row = rows[hit.interaction_id]
            item = hit.to_json()
            item["recording_id"] = row.id if row is not None else None
            item["link"] = (f"/review/{row.id}#t={hit.start:.1f}" if row is not None else None)
            results.append(item)
        await self.recordings.audit(who, "search", "ok", 200)
        return web.json_response({"results": results})

    # -- QA ----------------------------------------------------------------------------------
    async def qa(self, request: web.Request) -> web.Response:
        who = principal(request)
        writing = request.method == "POST"
        action = "qa_write" if writing else "qa_read"
        raw = request.match_info["iid"]
        if not _IID.match(raw) or int(raw) == 0:
            await self.recordings.audit(who, action, "invalid", 400)
            return json_error(400, "invalid_id", "an interaction id is a positive integer",
                              where="path.iid")
        iid = int(raw)
        exists, agent = await self.store.agent_of(iid)
        if not exists:
            await self.recordings.audit(who, action, "not_found", 404, interaction_id=iid)
            return json_error(404, "not_found", "no such interaction", where="path.iid")
        if not self.may_see_agent(who, agent) or (writing and who.role < Role.SUPERVISOR):
            await self.recordings.audit(who, action, "forbidden", 403, interaction_id=iid)
            return json_error(403, "forbidden", "a QA review needs a supervisor of this agent"
                              if writing else "this interaction is not yours to see")
        if not writing:
            await self.recordings.audit(who, action, "ok", 200, interaction_id=iid)
            return web.json_response({"reviews": await self.store.reviews(iid)})
        try:
            body = await read_json_object(request)
            review = await self.store.add_review(iid, who.name, body.get("score"),
                                                 body.get("notes"))
        except JsonBodyError as exc:
            await self.recordings.audit(who, action, "invalid", 400, interaction_id=iid)
            return json_error(400, exc.code, exc.message, where=exc.where)
        except InvalidInput as exc:
            await self.recordings.audit(who, action, "invalid", 400, interaction_id=iid)
            return json_error(400, "invalid_input", exc.what, where=f"body.{exc.where}")
        except NotFound:
            await self.recordings.audit(who, action, "not_found", 404, interaction_id=iid)
            return json_error(404, "not_found", "no such interaction", where="path.iid")
        await self.recordings.audit(who, action, "ok", 201, interaction_id=iid)
        return web.json_response(review, status=201)


async def review_page(request: web.Request) -> web.Response:
    return web.Response(body=request.app[REVIEW_PAGE], content_type="text/html",
                        charset="utf-8", headers=PAGE_HEADERS)


def add_review_routes(app: web.Application, api: ReviewApi) -> None:
    """The routes of the module doc. The API routes are open to every signed-in role at the
    door so that a refusal reaches the handler and is audited (as in the recordings API)."""
    app[REVIEW_PAGE] = (STATIC_DIR / "review.html").read_bytes()
    r = app.router
    require_page(app, r.add_get("/review", review_page), Role.AGENT)
    require_page(app, r.add_get("/review/{id:[0-9a-f]{1,64}}", review_page), Role.AGENT)
    require(app, r.add_static("/review/static", STATIC_DIR), Role.AGENT)
    add_common_static(app)  # /common/static: the modules every page shares
    require(app, r.add_get("/api/review/recordings/{id}", api.recording), Role.AGENT)
    require(app, r.add_get("/api/review/recordings/{id}/peaks", api.waveform), Role.AGENT)
    require(app, r.add_get("/api/review/search", api.search), Role.AGENT)
    require(app, r.add_get("/api/review/interactions/{iid}/qa", api.qa), Role.AGENT)
    require(app, r.add_post("/api/review/interactions/{iid}/qa", api.qa), Role.AGENT)
