"""Retention as the server runs it: `open_recordings` starts a sweep at start-up and then
every `retention_interval`; a recording older than its queue's days is deleted (file gone,
row marked), a newer one and one on hold are kept; the days come from the config (per queue,
the section's default for the rest)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from centralita.recording import open_recordings, retention_days
from recordings.config import QueuePolicy, RecordingConfig
from recordings.storage import RecordingRow

DAY = 86400.0


def test_days_per_queue_and_default() -> None:
    config = RecordingConfig(enabled=True, retention_days=90, queues={
        "support": QueuePolicy(retention_days=30), "sales": QueuePolicy(record=True)})
    assert retention_days(config) == {"support": 30, None: 90}
    assert retention_days(RecordingConfig(enabled=True)) == {}  # kept until deleted


async def test_the_loop_deletes_the_expired_and_keeps_the_held(
    tmp_path: Path, db_url: str
) -> None:
    url = db_url
    config = RecordingConfig(enabled=True, retention_days=365, retention_interval=0.05,
                             queues={"support": QueuePolicy(retention_days=7)})
    recordings = await open_recordings(tmp_path, url, RecordingConfig(enabled=True))
    now = time.time()
    files = {}
    for rid, age, queue in (("a1", 8, "support"), ("b2", 8, "support"), ("c3", 6, "support"),
                            ("d4", 8, "sales")):
        location = f"2026/01/01/{rid}.opus"
        path = tmp_path / "recordings" / location
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"OggS")
        files[rid] = path
        await recordings.index.start(RecordingRow(
            id=rid, call_id=rid, interaction_id=None, location=location, channels=2,
            sample_rate=8000, started_wall=now - age * DAY, status="complete",
            paused_spans=[], codec="opus", size_bytes=4, queue=queue))
    await recordings.hold("b2", True, by="sam")
    await recordings.close()

    recordings = await open_recordings(tmp_path, url, config)
    try:
        for _ in range(100):
            row = await recordings.index.get("a1")
            if row is not None and row.deleted_wall is not None:
                break
            await asyncio.sleep(0.05)
        rows = {rid: await recordings.index.get(rid) for rid in files}
    finally:
        await recordings.close()
    gone = rows["a1"]
    assert gone is not None and gone.deleted_reason == "retention"
    assert datetime.fromtimestamp(gone.deleted_wall or 0, UTC).year >= 2026
    assert not files["a1"].exists()
    for kept in ("b2", "c3", "d4"):  # held; younger than support's 7 days; sales: 365 days
        row = rows[kept]
        assert row is not None and row.deleted_wall is None, kept
        assert files[kept].exists()
