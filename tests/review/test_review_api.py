"""The review API (web.review) over real recordings (the real recorder, compressed to Opus),
the real case store with transcript segments, a real aiohttp server with the real auth; on
SQLite and PostgreSQL.

Users as in tests/recordings/test_review_api.py: root (admin), sam (supervisor of team
"front": ana), ana and bo (agents); one recorded call each for ana and bo, with a paused
span at 1.0-1.4 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
import pytest

from cases.events import InProcessBus
from cases.review_store import ReviewStore
from cases.store import CaseStore
from centralita.recording import CaseInteractions
from media.clock import FakeClock
from media.frames import AudioFrame
from recordings.service import Recordings
from recordings.storage import FileStorage, RecordingIndex, RecordingRow
from tests.helpers.webapp import start_app
from tests.recordings.fakes import HandMedia
from tests.recordings.test_recorder import new_call
from tests.recordings.test_review_api import ROLES, START, TEAMS
from tests.web.conftest import PASSWORD, hasher, make_auth, users
from web.app import build_app
from web.auth.store import UserStore
from web.recordings_api import RecordingsApi, add_recording_routes
from web.review import ReviewApi, add_review_routes

__all__ = ["hasher", "users"]  # tests/web's fixtures, used here
SAID = {"ana": "I am calling about the refund for my broken kettle",
        "bo": "The refund for the lamp never arrived"}


def tone(t: int, hz: float, amplitude: float) -> AudioFrame:
    """The `t`th 20 ms frame of a sine (8 kHz; Opus keeps tones, not constant values)."""
    n = np.arange(t * 160, (t + 1) * 160)
    return AudioFrame((amplitude * np.sin(2 * np.pi * hz * n / 8000)).astype(np.int16), 8000)


async def record(recordings: Recordings, cases: CaseStore, call_id: str, agent: str) -> str:
    """A 3 s call: the caller a 440 Hz tone at 8000 (0.24 of full scale), what they hear
    300 Hz at 4000 (0.12), with a paused span at 1.0-1.4 s."""
    ref = await cases.start_voice_interaction(caller="+34600111222", call_id=call_id)
    await cases.set_interaction_agent(call_id, agent)
    caller = HandMedia()
    call = new_call(caller)
    rid = await recordings.start(call_id, call, caller, interaction_id=ref.interaction_id)
    for t in range(150):
        if t == 50:
            call.pause_privacy("agent:" + agent)
        if t == 70:
            call.resume_privacy("agent:" + agent)
        caller.send(tone(t, 440, 8000), heard=tone(t, 300, 4000))
    row = await recordings.finish(call_id, agent=agent, queue="support")
    assert row is not None and row.codec == "opus", row
    return rid


@dataclass
class Rig:
    base: str
    recordings: Recordings
    rows: dict[str, RecordingRow]
    http: dict[str, aiohttp.ClientSession]
    csrf: dict[str, str]

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        async with self.http[who].get(self.base + path, allow_redirects=False) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, body

    async def post(self, who: str, path: str, body: object) -> tuple[int, Any]:
        h = {"X-CSRF-Token": self.csrf[who], "Origin": self.base}
        async with self.http[who].post(self.base + path, json=body, headers=h) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def rig(tmp_path: Any, users: UserStore, db_url: str) -> AsyncIterator[Rig]:
    for name, role in ROLES.items():
        await users.add_user(name, PASSWORD, role)
    cases = await CaseStore.open(db_url, bus=InProcessBus())
    recordings = await Recordings.open(FileStorage(tmp_path / "rec"),
                                       await RecordingIndex.open(db_url), wall=lambda: START)
    review = await ReviewStore.open(db_url)
    rows = {}
    for agent in ("ana", "bo"):
        rid = await record(recordings, cases, f"call-{agent}", agent)
        row = await recordings.index.get(rid)
        assert row is not None and row.interaction_id is not None
        await cases.add_segment(row.interaction_id, speaker="caller", start=0.2, end=0.9,
                                text=SAID[agent], confidence=0.9, engine="test")
        await cases.add_segment(row.interaction_id, speaker="agent", start=1.6, end=2.8,
                                text="Let me look at that for you", confidence=0.9,
                                engine="test")
        rows[agent] = row
    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    recordings_api = RecordingsApi(recordings, CaseInteractions(cases), TEAMS,
                                   wall=lambda: START.timestamp())
    add_recording_routes(app, recordings_api)
    add_review_routes(app, ReviewApi(recordings_api, review))
    runner, base = await start_app(app, access_log=None)
    http = {n: aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            for n in [*ROLES, "nobody"]}
    csrf = {}
    for name in ROLES:
        async with http[name].post(base + "/api/login",
                                   json={"username": name, "password": PASSWORD}) as resp:
            assert resp.status == 200
            csrf[name] = (await resp.json())["csrf"]
    try:
        yield Rig(base, recordings, rows, http, csrf)
    finally:
        for session in http.values():
            await session.close()
        await runner.cleanup()
        await review.close()
        await recordings.close()
        await cases.close()


async def _audited(rig: Rig, actor: str, action: str) -> set[str]:
    return {e.result for e in await rig.recordings.index.audit.entries()
            if e.actor == actor and e.action == action}


async def test_a_recording_comes_with_its_transcript_and_only_to_who_may_see_it(
        rig: Rig) -> None:
    ana = rig.rows["ana"]
    status, body = await rig.get("ana", f"/api/review/recordings/{ana.id}")
    assert status == 200
    assert body["audio"] == f"/api/recordings/{ana.id}/audio"
    assert [(s["speaker"], s["start"], s["text"]) for s in body["segments"]] == [
        ("caller", 0.2, SAID["ana"]), ("agent", 1.6, "Let me look at that for you")]
    assert body["recording"]["paused_spans"][0]["start"] == pytest.approx(1.0, abs=0.03)
    assert (body["reviews"], body["may_review"]) == ([], False)
    status, _ = await rig.get("ana", f"/api/review/recordings/{rig.rows['bo'].id}")
    assert status == 403
    assert "forbidden" in await _audited(rig, "ana", "read")
    status, body = await rig.get("sam", f"/api/review/recordings/{ana.id}")
    assert (status, body["may_review"]) == (200, True)


async def test_the_waveform_shows_the_audio_and_the_paused_span(rig: Rig) -> None:
    ana = rig.rows["ana"]
    status, body = await rig.get("ana", f"/api/review/recordings/{ana.id}/peaks?n=30")
    assert status == 200
    assert body["duration"] == pytest.approx(3.0, abs=0.1)
    caller, agent = body["channels"]["caller"], body["channels"]["agent"]
    assert len(caller) == len(agent) == 30
    # Tones at 0.24 (caller) and 0.12 (what the caller heard: the agent's side), silence
    # while paused (1.0-1.4 s: slices 10-13).
    assert all(0.18 < v < 0.32 for v in caller[1:9] + caller[16:28]), caller
    assert all(0.08 < v < 0.17 for v in agent[1:9] + agent[16:28]), agent
    assert max(caller[11:13]) < 0.02 and max(agent[11:13]) < 0.02
    for bad in ("0", "4001", "x"):
        status, _ = await rig.get("ana", f"/api/review/recordings/{ana.id}/peaks?n={bad}")
        assert status == 400
    status, _ = await rig.get("bo", f"/api/review/recordings/{ana.id}/peaks")
    assert status == 403
    assert {"ok", "invalid"} <= await _audited(rig, "ana", "waveform")
    assert "forbidden" in await _audited(rig, "bo", "waveform")


async def test_search_finds_the_calls_each_role_may_see_and_links_to_the_second(
        rig: Rig) -> None:
    async def found(who: str, q: str) -> list[tuple[str, str]]:
        status, body = await rig.get(who, f"/api/review/search?q={q}")
        assert status == 200
        return sorted((r["agent"], r["link"]) for r in body["results"])

    ana, bo = rig.rows["ana"], rig.rows["bo"]
    assert await found("ana", "refund") == [("ana", f"/review/{ana.id}#t=0.2")]
    assert await found("bo", "refund") == [("bo", f"/review/{bo.id}#t=0.2")]
    assert await found("sam", "refund") == [("ana", f"/review/{ana.id}#t=0.2")]
    assert await found("root", "refund") == [("ana", f"/review/{ana.id}#t=0.2"),
                                              ("bo", f"/review/{bo.id}#t=0.2")]
    assert await found("root", "%22look%20at%20that%22") == [
        ("ana", f"/review/{ana.id}#t=1.6"), ("bo", f"/review/{bo.id}#t=1.6")]
    assert await found("ana", "kettle%20lamp") == []
    status, _ = await rig.get("ana", "/api/review/search?q=%3F%21")
    assert status == 400
    assert {"ok", "invalid"} <= await _audited(rig, "ana", "search")


async def test_qa_reviews_are_written_by_supervisors_of_the_agent_and_read_by_them(
        rig: Rig) -> None:
    ana, bo = rig.rows["ana"].interaction_id, rig.rows["bo"].interaction_id
    path = f"/api/review/interactions/{ana}/qa"
    status, _ = await rig.post("ana", path, {"score": 100, "notes": "I was great"})
    assert status == 403
    status, review = await rig.post("sam", path, {"score": 72, "notes": "Good, slow close."})
    assert status == 201
    assert (review["score"], review["reviewer"], review["notes"]) == (
        72, "sam", "Good, slow close.")
    status, _ = await rig.post("sam", f"/api/review/interactions/{bo}/qa", {"score": 10})
    assert status == 403  # not sam's team
    status, _ = await rig.post("root", f"/api/review/interactions/{bo}/qa", {"score": 90})
    assert status == 201
    for body, where in (({"score": 101}, "body.score"), ({"notes": ""}, "body.notes"),
                        ([1], "body")):
        status, err = await rig.post("sam", path, body)
        assert (status, err["error"]["where"]) == (400, where)
    status, _ = await rig.post("sam", "/api/review/interactions/999999/qa", {"score": 1})
    assert status == 404
    status, body = await rig.get("ana", path)  # an agent reads their own reviews
    assert status == 200 and [r["score"] for r in body["reviews"]] == [72]
    status, _ = await rig.get("ana", f"/api/review/interactions/{bo}/qa")
    assert status == 403
    status, body = await rig.get("sam", f"/api/review/recordings/{rig.rows['ana'].id}")
    assert [r["score"] for r in body["reviews"]] == [72]
    assert {"ok", "forbidden", "invalid"} <= await _audited(rig, "sam", "qa_write")
    assert "forbidden" in await _audited(rig, "ana", "qa_write")


async def test_the_page_is_for_signed_in_users_with_a_strict_policy(rig: Rig) -> None:
    ana = rig.rows["ana"]
    async with rig.http["nobody"].get(rig.base + f"/review/{ana.id}",
                                      allow_redirects=False) as resp:
        assert resp.status in (302, 303) and "/login" in resp.headers["Location"]
    async with rig.http["ana"].get(rig.base + f"/review/{ana.id}") as resp:
        assert resp.status == 200
        assert "script-src" not in resp.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"]
        page = await resp.text()
    assert '<script type="module" src="/review/static/review.js">' in page
    assert "<script>" not in page and "onclick" not in page
    async with rig.http["ana"].get(rig.base + "/review/static/i18n_es.js") as resp:
        assert resp.status == 200
    async with rig.http["nobody"].get(rig.base + "/api/review/search?q=refund") as resp:
        assert resp.status == 401
