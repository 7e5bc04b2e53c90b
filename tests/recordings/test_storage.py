"""Recording files (paths by day, private modes) and the index row's life: written at start,
completed at close with duration and sha256, repaired to 'interrupted' after a kill; on
SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import stat
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from recordings.service import Recordings
from recordings.storage import FileStorage, RecordingIndex
from tests.recordings.fakes import HandMedia, frame
from tests.recordings.test_recorder import new_call

WHEN = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)


def test_file_storage_paths_by_day_and_private_modes(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "recordings")
    location, file = storage.create("abc123", WHEN)
    file.close()
    assert location == "2026/12/06/abc123.wav"
    path = storage.local_path(location)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, path.parent.parent, path.parent.parent.parent,
                      tmp_path / "recordings"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    with pytest.raises(ValueError, match="recording id"):
        storage.create("../x", WHEN)
    with pytest.raises(ValueError, match="outside the recordings root"):
        storage.local_path("../../etc/passwd")


async def test_row_written_at_start_and_completed_at_close(tmp_path: Path, db_url: str) -> None:
    index = await RecordingIndex.open(db_url)
    recordings = await Recordings.open(FileStorage(tmp_path / "rec"), index, wall=lambda: WHEN,
                                       compress=False)
    caller = HandMedia()
    call = new_call(caller)
    rid = await recordings.start(call.id, call, caller, interaction_id=None)
    await recordings.set_interaction(call.id, 42)
    row = await index.get(rid)
    assert row is not None and row.status == "recording" and row.sha256 is None
    assert (row.channels, row.sample_rate, row.interaction_id) == (2, 8000, 42)
    for t in range(100):
        if t == 20:
            call.pause_privacy("agent:ana")
        if t == 30:
            call.resume_privacy("agent:ana")
        caller.send(frame(t + 1))
    done = await recordings.finish(call.id)
    await recordings.close()
    assert done is not None and done.status == "complete"
    assert done.duration == pytest.approx(2.0)
    path = tmp_path / "rec" / done.location
    assert done.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert done.paused_spans == [{"start": pytest.approx(0.4), "end": pytest.approx(0.6),
                                  "by": "agent:ana"}]
    with wave.open(str(path)) as w:
        assert w.getnframes() == 16000


async def test_row_left_recording_is_repaired_at_startup(tmp_path: Path, db_url: str) -> None:
    index = await RecordingIndex.open(db_url)
    storage = FileStorage(tmp_path / "rec")
    recordings = await Recordings.open(storage, index, wall=lambda: WHEN, compress=False)
    caller = HandMedia()
    call = new_call(caller)
    rid = await recordings.start(call.id, call, caller)
    for t in range(120):
        caller.send(frame(t + 1))
    # What a kill -9 leaves: the disk thread wrote what it had; nobody closed or completed.
    recordings.writer.stop()
    row = await index.get(rid)
    assert row is not None
    path = storage.local_path(row.location)
    with path.open("ab") as f:  # a tail the header does not count yet
        f.write(bytes(4 * 160 * 20))
    await index.close()

    index = await RecordingIndex.open(db_url)
    again = await Recordings.open(storage, index, wall=lambda: WHEN, compress=False)
    assert again.repaired == 1
    row = await index.get(rid)
    await again.close()
    assert row is not None and row.status == "interrupted"
    assert row.duration == pytest.approx(2.4)  # 2 s written in chunks + the 0.4 s tail
    assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with wave.open(str(path)) as w:
        assert w.getnframes() == 2.4 * 8000


def test_config_key_is_off_by_default_and_checked(tmp_path: Path) -> None:
    from centralita.settings import ConfigError, load_settings

    assert load_settings(None, {}).recordings.enabled is False
    config = tmp_path / "c.yaml"
    config.write_text("recordings: {enabled: true}\n")
    assert load_settings(config, {}).recordings.enabled is True
    config.write_text("recordings: {enabled: yes please}\n")
    with pytest.raises(ConfigError, match=r"c.yaml: recordings.enabled must be true or false"):
        load_settings(config, {})


async def test_bridged_hook_puts_the_agent_on_the_right_channel(
    tmp_path: Path, db_url: str
) -> None:
    from centralita.recording import agent_recording, chain_bridged

    index = await RecordingIndex.open(db_url)
    recordings = await Recordings.open(FileStorage(tmp_path / "rec"), index, wall=lambda: WHEN,
                                       compress=False)
    caller, agent = HandMedia(), HandMedia()
    call, agent_call = new_call(caller), new_call(agent)
    await recordings.start(call.id, call, caller)
    ran: list[str] = []

    async def broken(a: object, b: object) -> None:
        ran.append("broken")
        raise RuntimeError("a transcription hook that fails")

    hook = chain_bridged(broken, None, agent_recording(recordings))
    assert hook is not None and chain_bridged(None) is None
    await hook(call, agent_call)  # the failing hook does not keep the agent off the recording
    for _ in range(60):
        agent.taps_in.deliver(frame(3000))
        caller.send(frame(5))
    row = await recordings.finish(call.id)
    await recordings.close()
    assert ran == ["broken"] and row is not None
    with wave.open(str(tmp_path / "rec" / row.location)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.all(pcm[0::2] == 5) and np.all(pcm[1::2] == 3000)
