"""The review API over real recordings (recorded through the real recorder, compressed to
Opus, indexed in the case database), a real aiohttp server with the real auth, and the real
case store for who handled which call; on SQLite and PostgreSQL.

Users: root (admin), sam (supervisor of team "front": ana), ana and bo (agents). One call
was ana's, one bo's. Must-show: ana fetching bo's recording gets 403 and the attempt is in
the audit log; retention deletes an expired recording and keeps one on legal hold.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from centralita.recording import CaseInteractions
from media.clock import FakeClock
from recordings.service import Recordings
from recordings.storage import FileStorage, RecordingIndex, RecordingRow
from routing.config import TeamConfig
from tests.helpers.webapp import start_app
from tests.recordings.fakes import HandMedia, frame
from tests.recordings.test_recorder import new_call
from tests.web.conftest import PASSWORD, hasher, make_auth, users
from web.app import build_app
from web.auth import Role
from web.auth.store import UserStore
from web.case_access import Teams
from web.recordings_api import RecordingsApi, add_recording_routes

__all__ = ["hasher", "users"]  # tests/web's fixtures, used here
TEAMS = Teams.from_config([TeamConfig("front", ("sam",), ("ana",))])
ROLES = {"root": Role.ADMIN, "sam": Role.SUPERVISOR, "ana": Role.AGENT, "bo": Role.AGENT}
START = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@dataclass
class Rig:
    base: str
    recordings: Recordings
    rows: dict[str, RecordingRow]  # by agent
    now: list[datetime]
    root: Path
    http: dict[str, aiohttp.ClientSession]
    csrf: dict[str, str]

    async def call(self, who: str, method: str, path: str,
                   headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
        h = {"X-CSRF-Token": self.csrf[who], "Origin": self.base, **(headers or {})}
        async with self.http[who].request(method, self.base + path, headers=h) as resp:
            return resp.status, await resp.read(), resp.headers


async def record(recordings: Recordings, cases: CaseStore, call_id: str, agent: str) -> str:
    ref = await cases.start_voice_interaction(caller="+34600111222", call_id=call_id)
    await cases.set_interaction_agent(call_id, agent)
    caller = HandMedia()
    call = new_call(caller)
    rid = await recordings.start(call_id, call, caller, interaction_id=ref.interaction_id)
    for t in range(150):  # 3 s, with a paused span at 1.0-1.4 s
        if t == 50:
            call.pause_privacy("agent:" + agent)
        if t == 70:
            call.resume_privacy("agent:" + agent)
        caller.send(frame(2000 + t), heard=frame(-1000))
    row = await recordings.finish(call_id, agent=agent, queue="support")
    assert row is not None and row.codec == "opus", row
    return rid


@pytest.fixture
async def rig(tmp_path: Path, users: UserStore, db_url: str) -> AsyncIterator[Rig]:
    for name, role in ROLES.items():
        await users.add_user(name, PASSWORD, role)
    url = db_url  # SQLite and PostgreSQL
    cases = await CaseStore.open(url, bus=InProcessBus())
    now = [START]
    recordings = await Recordings.open(FileStorage(tmp_path / "rec"),
                                       await RecordingIndex.open(url), wall=lambda: now[0])
    rows = {}
    for agent in ("ana", "bo"):
        rid = await record(recordings, cases, f"call-{agent}", agent)
        got = await recordings.index.get(rid)
        assert got is not None
        rows[agent] = got
    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    add_recording_routes(app, RecordingsApi(recordings, CaseInteractions(cases), TEAMS,
                                            wall=lambda: now[0].timestamp()))
    runner, base = await start_app(app, access_log=None)
    http = {n: aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) for n in ROLES}
    csrf = {}
    for name, session in http.items():
        async with session.post(base + "/api/login",
                                json={"username": name, "password": PASSWORD}) as resp:
            assert resp.status == 200
            csrf[name] = (await resp.json())["csrf"]
    try:
        yield Rig(base, recordings, rows, now, tmp_path / "rec", http, csrf)
    finally:
        for session in http.values():
            await session.close()
        await runner.cleanup()
        await recordings.close()
        await cases.close()


async def test_agent_fetching_another_agents_recording_gets_403_and_is_audited(rig: Rig) -> None:
    bos = rig.rows["bo"].id
    for path, action in ((f"/api/recordings/{bos}", "read"),
                         (f"/api/recordings/{bos}/audio", "play")):
        status, body, _ = await rig.call("ana", "GET", path)
        assert status == 403, body
        entries = await rig.recordings.index.audit.entries(bos)
        assert (entries[0].actor, entries[0].role, entries[0].action, entries[0].result,
                entries[0].status) == ("ana", "agent", action, "forbidden", 403)
        assert entries[0].at_wall == START.timestamp()
        assert entries[0].interaction_id == rig.rows["bo"].interaction_id
    # Nothing of bo's recording leaked in the refusal, and it was written before the answer.
    assert bos.encode() not in body


async def test_agent_plays_own_recording_with_seeking(rig: Rig) -> None:
    mine = rig.rows["ana"]
    status, body, _ = await rig.call("ana", "GET", f"/api/recordings/{mine.id}")
    assert status == 200
    meta = json.loads(body)
    assert meta["codec"] == "opus" and meta["agent"] == "ana"
    assert meta["paused_spans"] == [{"start": pytest.approx(1.0), "end": pytest.approx(1.4),
                                     "by": "agent:ana"}]
    status, whole, headers = await rig.call("ana", "GET", f"/api/recordings/{mine.id}/audio")
    assert status == 200 and headers["Content-Type"] == "audio/ogg"
    assert headers["Accept-Ranges"] == "bytes" and len(whole) == mine.size_bytes
    with av.open(io.BytesIO(whole), "r") as container:
        frames = list(container.decode(audio=0))
    seconds = sum(f.samples for f in frames) / frames[0].sample_rate
    # Two channels, caller then agent (independent mono streams: FFmpeg names no layout).
    assert seconds == pytest.approx(3.0, abs=0.1) and len(frames[0].layout.channels) == 2
    status, part, headers = await rig.call(
        "ana", "GET", f"/api/recordings/{mine.id}/audio", {"Range": "bytes=100-1099"})
    assert status == 206 and part == whole[100:1100]
    assert headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    status, tail, _ = await rig.call(
        "ana", "GET", f"/api/recordings/{mine.id}/audio", {"Range": "bytes=-10"})
    assert status == 206 and tail == whole[-10:]
    status, _, headers = await rig.call(
        "ana", "GET", f"/api/recordings/{mine.id}/audio", {"Range": f"bytes={len(whole)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(whole)}"
    actions = [(e.action, e.result, e.status)
               for e in await rig.recordings.index.audit.entries(mine.id)]
    assert actions == [("play", "invalid", 416), ("play", "ok", 206), ("play", "ok", 206),
                       ("play", "ok", 200), ("read", "ok", 200)]


async def test_lists_follow_roles(rig: Rig) -> None:
    async def listed(who: str, query: str = "") -> tuple[int, set[str]]:
        status, body, _ = await rig.call(who, "GET", "/api/recordings" + query)
        found = {r["agent"] for r in json.loads(body).get("recordings", [])}
        return status, found

    assert await listed("ana") == (200, {"ana"})
    assert await listed("bo") == (200, {"bo"})
    assert await listed("sam") == (200, {"ana"})  # his team
    assert await listed("root") == (200, {"ana", "bo"})
    assert await listed("sam", f"?interaction={rig.rows['bo'].interaction_id}") == (403, set())
    assert await listed("sam", f"?interaction={rig.rows['ana'].interaction_id}") == (
        200, {"ana"})
    status, _, _ = await rig.call("ana", "GET", "/api/recordings?interaction=abc")
    assert status == 400
    entries = await rig.recordings.index.audit.entries()
    assert ("sam", "list", "forbidden") in {(e.actor, e.action, e.result) for e in entries}


async def test_hold_and_delete_roles_then_retention_keeps_the_held(rig: Rig) -> None:
    ana, bo = rig.rows["ana"], rig.rows["bo"]
    assert (await rig.call("ana", "POST", f"/api/recordings/{ana.id}/hold"))[0] == 403
    assert (await rig.call("sam", "POST", f"/api/recordings/{bo.id}/hold"))[0] == 403
    status, body, _ = await rig.call("sam", "POST", f"/api/recordings/{ana.id}/hold")
    assert status == 200 and b'"held": true' in body
    assert (await rig.call("sam", "DELETE", f"/api/recordings/{ana.id}"))[0] == 403
    assert (await rig.call("root", "DELETE", f"/api/recordings/{ana.id}"))[0] == 409
    ana_file, bo_file = rig.root / ana.location, rig.root / bo.location
    assert ana_file.exists() and bo_file.exists()

    # 29 days on: a 30-day retention deletes nothing yet.
    rig.now[0] = START + timedelta(days=29)
    assert await rig.recordings.sweep({None: 30}) == []
    # 31 days on: bo's goes (file gone, row marked), ana's stays on hold.
    rig.now[0] = START + timedelta(days=31)
    assert await rig.recordings.sweep({None: 30}) == [bo.id]
    assert not bo_file.exists() and ana_file.exists()
    gone = await rig.recordings.index.get(bo.id)
    assert gone is not None and gone.deleted_reason == "retention"
    assert gone.deleted_wall == rig.now[0].timestamp()
    kept = await rig.recordings.index.get(ana.id)
    assert kept is not None and kept.deleted_wall is None and kept.held_by == "sam"
    assert (await rig.call("root", "GET", f"/api/recordings/{bo.id}/audio"))[0] == 410
    entries = await rig.recordings.index.audit.entries(bo.id)
    assert ("system:retention", "delete", "ok") in {(e.actor, e.action, e.result)
                                                   for e in entries}
    # Released, ana's goes at the next sweep; an admin's delete also marks the row.
    assert (await rig.call("sam", "DELETE", f"/api/recordings/{ana.id}/hold"))[0] == 200
    assert await rig.recordings.sweep({"support": 40, None: 30}) == []  # its queue: 40 days
    assert (await rig.call("root", "DELETE", f"/api/recordings/{ana.id}"))[0] == 200
    assert not ana_file.exists()
    row = await rig.recordings.index.get(ana.id)
    assert row is not None and row.deleted_reason == "admin"
