"""Compression and object storage, with real peers: PyAV encodes and decodes the Opus files,
an S3 API server (moto's ThreadedMotoServer, in process, from PyPI) takes the uploads
through boto3, and a `kill -9` hits a real encoder process mid-file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import time
import urllib.request
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from recordings.compress import decoded_duration, wav_duration
from recordings.config import S3Config
from recordings.s3 import S3Storage
from recordings.service import Recordings
from recordings.storage import FileStorage, RecordingIndex, RecordingRow
from tests.helpers.server import free_port
from tests.recordings.fakes import HandMedia, frame
from tests.recordings.test_recorder import new_call

WHEN = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Config]:
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        config = S3Config("recordings", f"http://127.0.0.1:{port}", "us-east-1", "cc/")
        # moto keeps its buckets in process-wide state: start each test from an empty S3.
        urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - loopback
            f"{config.endpoint_url}/moto-api/reset", method="POST"), timeout=10).close()
        boto3.client("s3", endpoint_url=config.endpoint_url).create_bucket(Bucket=config.bucket)
        yield config
    finally:
        server.stop()


def write_wav(path: Path, seconds: float) -> None:
    t = np.arange(int(seconds * 8000)) / 8000
    x = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    stereo = np.empty(2 * len(x), "<i2")
    stereo[0::2], stereo[1::2] = x, x // 2
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(stereo.tobytes())


async def test_recording_compressed_uploaded_and_served_from_s3(
    tmp_path: Path, s3: S3Config, db_url: str
) -> None:
    storage = S3Storage(s3, tmp_path / "spool")
    index = await RecordingIndex.open(db_url)
    recordings = await Recordings.open(storage, index, wall=lambda: WHEN)
    caller = HandMedia()
    call = new_call(caller)
    rid = await recordings.start(call.id, call, caller)
    for t in range(200):
        caller.send(frame(1000 + t))
    row = await recordings.finish(call.id)
    await recordings.close()
    assert row is not None and row.codec == "opus" and row.status == "complete"
    assert row.location == f"s3://recordings/cc/2026/12/06/{rid}.opus"
    assert not list((tmp_path / "spool").rglob("*.wav"))  # the spool is empty
    assert not list((tmp_path / "spool").rglob("*.opus*"))
    client = boto3.client("s3", endpoint_url=s3.endpoint_url)
    head = client.head_object(Bucket="recordings", Key=f"cc/2026/12/06/{rid}.opus")
    assert head["ContentLength"] == row.size_bytes == storage.size(row.location)
    assert head["ContentType"] == "audio/ogg"
    whole = client.get_object(Bucket="recordings", Key=f"cc/2026/12/06/{rid}.opus")["Body"].read()
    assert storage.read(row.location, 10, 100) == whole[10:110]
    (tmp_path / "back.opus").write_bytes(whole)
    assert decoded_duration(tmp_path / "back.opus") == pytest.approx(4.0, abs=0.1)
    storage.delete(row.location)
    with pytest.raises(FileNotFoundError):
        storage.size(row.location)
    with pytest.raises(ValueError, match="not in bucket"):
        storage.size("s3://elsewhere/x.opus")


def test_compression_is_verified_by_decoding(tmp_path: Path) -> None:
    from recordings.compress import CompressionError, compress

    write_wav(tmp_path / "a.wav", 5.0)
    done = compress(tmp_path / "a.wav", tmp_path / "a.opus")
    assert done.duration == pytest.approx(5.0, abs=0.1)
    assert done.size_bytes == (tmp_path / "a.opus").stat().st_size
    assert done.size_bytes < (tmp_path / "a.wav").stat().st_size / 5
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEnot really")
    with pytest.raises(CompressionError, match="bad.wav"):
        compress(tmp_path / "bad.wav", tmp_path / "bad.opus")


def test_one_sides_onset_is_never_heard_on_the_other_channel(tmp_path: Path) -> None:
    """Caller silent, agent speaking in bursts (noise from silence, the hardest onset): the
    compressed caller channel stays silent. Coupled stereo Opus put ~100 ms of each onset on
    the silent side at up to 0.13 of full scale."""
    from recordings.compress import compress
    from recordings.peaks import peaks

    rate, seconds = 8000, 3.0
    t = np.arange(int(rate * seconds)) / rate
    bursts = ((t >= 0.02) & (t < 0.6)) | ((t >= 1.1) & (t < 1.5)) | (t >= 2.3)
    agent = (np.random.default_rng(7).normal(0, 6000, t.size) * bursts).astype(np.int16)
    stereo = np.stack([np.zeros_like(agent), agent], axis=1)
    with wave.open(str(tmp_path / "call.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(stereo.astype("<i2").tobytes())
    done = compress(tmp_path / "call.wav", tmp_path / "call.opus")
    caller, agent_peaks = peaks(done.path.read_bytes(), 30).channels
    assert max(caller) <= 0.002, caller
    assert min(agent_peaks[1:5]) > 0.1 and min(agent_peaks[24:]) > 0.1, agent_peaks


async def test_kill_9_mid_compression_leaves_the_wav_and_start_up_settles_it(
    tmp_path: Path, db_url: str
) -> None:
    root = tmp_path / "rec"
    storage = FileStorage(root)
    location, file = storage.create("feedbeef", WHEN)
    file.close()
    wav = storage.local_path(location)
    write_wav(wav, 600.0)  # ten minutes: the encoder is still busy when the kill comes
    part = wav.with_suffix(".opus.part")
    encoder = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        "import sys; from pathlib import Path; from recordings.compress import compress; "
        "compress(Path(sys.argv[1]), Path(sys.argv[2]))", str(wav), str(part),
        cwd=REPO, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size > 4096):
        assert encoder.returncode is None, "the encoder finished before it could be killed"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    os.killpg(encoder.pid, signal.SIGKILL)
    assert await encoder.wait() == -signal.SIGKILL
    assert wav.exists() and wav_duration(wav) == 600.0  # the WAV is untouched
    with pytest.raises(Exception):  # noqa: B017 - what is left is not a whole Opus file
        assert decoded_duration(part) == pytest.approx(600.0, abs=0.1)

    index = await RecordingIndex.open(db_url)
    await index.start(RecordingRow(  # the row as `finish` left it before settling
        id="feedbeef", call_id="c1", interaction_id=3, location=location, channels=2,
        sample_rate=8000, started_wall=WHEN.timestamp(), status="complete", paused_spans=[],
        duration=600.0))
    recordings = await Recordings.open(storage, index, wall=lambda: WHEN)
    await recordings.resumed()
    row = await index.get("feedbeef")
    await recordings.close()
    assert recordings.settled_at_start == 1
    assert row is not None and row.codec == "opus" and row.location.endswith("feedbeef.opus")
    assert not wav.exists() and not part.exists()
    opus = root / row.location
    assert decoded_duration(opus) == pytest.approx(600.0, abs=0.1)
    assert row.size_bytes == opus.stat().st_size
    assert row.sha256 == hashlib.sha256(opus.read_bytes()).hexdigest()


async def test_kill_between_removing_the_wav_and_the_row_update_is_adopted(
    tmp_path: Path, db_url: str
) -> None:
    """The row still names the WAV (unsettled) but the WAV is gone: start-up finds the Opus
    file filed for it, hashes it again and points the row at it; a row with no file at all
    is marked 'file missing' instead of being retried forever."""
    storage = FileStorage(tmp_path / "rec")
    index = await RecordingIndex.open(db_url)
    recordings = await Recordings.open(storage, index, wall=lambda: WHEN)
    caller = HandMedia()
    call = new_call(caller)
    rid = await recordings.start(call.id, call, caller)
    for t in range(100):
        caller.send(frame(1000 + t))
    settled = await recordings.finish(call.id)
    assert settled is not None and settled.codec == "opus"
    wav_location = storage.locate(rid, WHEN, ".wav")
    # What the kill left: the Opus filed, the WAV removed, the row not yet updated.
    await index.update(rid, location=wav_location, codec="wav", size_bytes=None, sha256=None)
    await index.start(RecordingRow(
        id="0ddba11", call_id="c2", interaction_id=None, location=storage.locate(
            "0ddba11", WHEN, ".wav"), channels=2, sample_rate=8000,
        started_wall=WHEN.timestamp(), status="complete", paused_spans=[], duration=1.0))
    await recordings.close()

    index = await RecordingIndex.open(db_url)
    again = await Recordings.open(storage, index, wall=lambda: WHEN)
    await again.resumed()
    adopted, missing = await index.get(rid), await index.get("0ddba11")
    await again.close()
    assert adopted is not None and adopted.location == settled.location
    assert (adopted.codec, adopted.size_bytes, adopted.sha256) == (
        "opus", settled.size_bytes, settled.sha256)
    assert missing is not None and missing.error == "file missing" and missing.size_bytes == 0
    assert again.settled_at_start == 2


async def test_an_upload_that_fails_is_notified_and_kept_for_the_next_start(
    tmp_path: Path, s3: S3Config, db_url: str
) -> None:
    """The bucket refuses (it does not exist): the webhook hears 'recording.failed' with the
    reason, the WAV stays in the spool and the row unsettled; once the bucket is there the
    next start uploads it and the webhook hears 'recording.saved'."""
    missing = S3Config("not-there-yet", s3.endpoint_url, s3.region, s3.prefix)
    notices: list[dict[str, object]] = []
    index = await RecordingIndex.open(db_url)
    recordings = await Recordings.open(S3Storage(missing, tmp_path / "spool"), index,
                                       wall=lambda: WHEN, notify=notices.append)
    caller = HandMedia()
    call = new_call(caller)
    rid = await recordings.start(call.id, call, caller)
    for t in range(50):
        caller.send(frame(1000 + t))
    row = await recordings.finish(call.id)
    await recordings.close()
    assert row is not None and row.size_bytes is None and row.codec == "wav"
    assert [(n["event"], n["recording_id"], n["error"]) for n in notices] == [
        ("recording.failed", rid, "filing failed: OSError")]
    assert (tmp_path / "spool" / row.location).exists()

    boto3.client("s3", endpoint_url=s3.endpoint_url).create_bucket(Bucket="not-there-yet")
    index = await RecordingIndex.open(db_url)
    again = await Recordings.open(S3Storage(missing, tmp_path / "spool"), index,
                                  wall=lambda: WHEN, notify=notices.append)
    await again.resumed()
    done = await index.get(rid)
    await again.close()
    assert done is not None and done.codec == "opus" and done.location.startswith("s3://")
    assert notices[-1]["event"] == "recording.saved" and notices[-1]["location"] == done.location
    assert not list((tmp_path / "spool").rglob("*.wav"))
