"""The stereo recorder on hand-driven taps: a header true after every write, one frame per
tick with silence for a side that sent nothing, privacy as silence plus a span, a failing
disk that stops the recording but never the call, drop-oldest when the disk stalls."""

from __future__ import annotations

import io
import shutil
import wave
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

from recordings.recorder import CallRecorder
from recordings.wavfile import DiskWriter, WavStream, repair
from tests.recordings.fakes import HandLeg, HandMedia, frame
from voice.call import Call, Direction


def read(path: Path) -> tuple[Any, Any, int]:
    """(left, right, frames) of a stereo 8 kHz WAV, through the stdlib reader."""
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        n = w.getnframes()
        pcm = np.frombuffer(w.readframes(n), "<i2")
    return pcm[0::2], pcm[1::2], n


def new_call(media: HandMedia) -> Call:
    return Call("c1", Direction.INBOUND, HandLeg(media))


def test_header_counts_the_data_after_every_write(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    stream = WavStream(path.open("w+b"))
    assert read(path)[2] == 0  # a valid, empty file from the first byte
    for i in range(1, 6):
        chunk = np.full(2 * 400, i, np.int16).tobytes()
        stream.write_at(stream.data_bytes, chunk)
        # A copy taken now is what a kill -9 would leave: it reads in full.
        shutil.copy(path, tmp_path / "snapshot.wav")
        left, right, n = read(tmp_path / "snapshot.wav")
        assert n == 400 * i
        assert left[-1] == right[-1] == i
    stream.close()
    assert read(path)[2] == 2000


def test_repair_counts_a_tail_the_header_missed(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    stream = WavStream(path.open("w+b"))
    stream.write_at(0, bytes(4 * 800))
    with path.open("ab") as f:  # data written, the header not yet rewritten (then the kill)
        f.write(bytes(4 * 300 + 3))
    assert read(path)[2] == 800
    assert repair(path) == pytest.approx(1100 / 8000)
    assert read(path)[2] == 1100


async def test_one_frame_per_tick_silence_for_a_side_that_sent_nothing(tmp_path: Path) -> None:
    caller, agent = HandMedia(), HandMedia()
    writer = DiskWriter()
    writer.start()
    path = tmp_path / "r.wav"
    rec = CallRecorder("c1", new_call(caller), WavStream(path.open("w+b")), writer)
    rec.attach_caller(caller)
    for t in range(1, 101):
        # The caller's packets are lost on every 4th tick; the IVR says 7 before the agent.
        caller.send(frame(t) if t % 4 else None, heard=frame(7))
        if t == 40:
            rec.attach_agent(agent)
        if t >= 40 and t % 5:  # the agent's leg ticks after the caller's, and loses some
            agent.send(frame(1000 + t))
    result = await rec.close()
    writer.stop()
    left, right, n = read(path)
    assert n == 100 * 160 and result.duration == pytest.approx(2.0)
    per_tick_l = left.reshape(100, 160)[:, 0]
    per_tick_r = right.reshape(100, 160)[:, 0]
    assert [int(v) for v in per_tick_l] == [t if t % 4 else 0 for t in range(1, 101)]
    assert all(v == 7 for v in per_tick_r[:40])  # ticks 1-40: what the caller heard
    # From the join on: the agent's frame of the tick before (its leg ticks after), or silence.
    expected = [1000 + t - 1 if (t - 1) % 5 else 0 for t in range(41, 101)]
    assert [int(v) for v in per_tick_r[40:]] == expected
    assert caller.taps_in.failures == caller.taps_out.failures == 0
    assert not caller.taps_out and not agent.taps_in  # all detached at close


async def test_ticks_the_clock_skipped_are_silence_in_the_file(tmp_path: Path) -> None:
    """A stalled loop skips ticks (stale audio is dropped): the file gets their silence, so
    what was said at call time T is at T in the recording, as in the transcript."""
    caller = HandMedia()
    writer = DiskWriter()
    writer.start()
    path = tmp_path / "r.wav"
    schedule = iter([1, 2, 3, 10, 11, 12])  # ticks 4-9 skipped by the clock
    position = 0

    def tick_index() -> int:
        return position

    rec = CallRecorder("c1", new_call(caller), WavStream(path.open("w+b")), writer,
                       tick_index=tick_index)
    rec.attach_caller(caller)
    for position in schedule:
        caller.send(frame(position), heard=frame(7))
    result = await rec.close()
    writer.stop()
    left, _right, n = read(path)
    per_tick = [int(v) for v in left.reshape(-1, 160)[:, 0]]
    assert per_tick == [1, 2, 3, 0, 0, 0, 0, 0, 0, 10, 11, 12], per_tick
    assert n == 12 * 160 and result.duration == pytest.approx(0.24)
    assert rec.skipped_frames == 6


async def test_16k_leg_is_resampled_to_8k(tmp_path: Path) -> None:
    caller, agent = HandMedia(), HandMedia()
    writer = DiskWriter()
    writer.start()
    path = tmp_path / "r.wav"
    rec = CallRecorder("c1", new_call(caller), WavStream(path.open("w+b")), writer)
    rec.attach_caller(caller)
    rec.attach_agent(agent)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(16000 * 2) / 16000)).astype(np.int16)
    for t in range(100):
        agent.taps_in.deliver(frame(0, 16000).__class__(tone[t * 320:(t + 1) * 320], 16000))
        caller.send(frame(1))
    await rec.close()
    writer.stop()
    _, right, n = read(path)
    assert n == 100 * 160
    spectrum = np.abs(np.fft.rfft(right[800:].astype(float)))
    assert abs(np.argmax(spectrum) * 8000 / len(right[800:]) - 440) < 10


async def test_privacy_pause_is_silence_on_both_channels_and_a_span(tmp_path: Path) -> None:
    caller, agent = HandMedia(), HandMedia()
    call = new_call(caller)
    writer = DiskWriter()
    writer.start()
    path = tmp_path / "r.wav"
    spans_seen: list[Any] = []
    rec = CallRecorder("c1", call, WavStream(path.open("w+b")), writer,
                       on_spans=spans_seen.append)
    rec.attach_caller(caller)
    rec.attach_agent(agent)
    for t in range(150):
        if t == 50:
            call.pause_privacy("ivr:card")
        if t == 100:
            call.resume_privacy("ivr:card")
        agent.taps_in.deliver(frame(2000))
        caller.send(frame(1000))
    result = await rec.close()
    writer.stop()
    left, right, _ = read(path)
    assert np.all(left[50 * 160:100 * 160] == 0) and np.all(right[50 * 160:100 * 160] == 0)
    assert np.all(left[:50 * 160] == 1000) and np.all(left[100 * 160:] == 1000)
    assert np.all(right[100 * 160:] == 2000)
    [span] = result.paused_spans
    assert span.start == pytest.approx(1.0) and span.end == pytest.approx(2.0)
    assert span.by == "ivr:card"
    assert spans_seen[-1][0].end == pytest.approx(2.0)


class BrokenDisk(io.BytesIO):
    """Takes the header, then every write fails as a full disk does."""

    def write(self, data: Any) -> int:
        if self.tell() >= 44:
            raise OSError(28, "No space left on device")
        return super().write(data)


async def test_a_failing_disk_stops_the_recording_not_the_call() -> None:
    caller = HandMedia()
    writer = DiskWriter()
    writer.start()
    disk: BinaryIO = BrokenDisk()
    rec = CallRecorder("c1", new_call(caller), WavStream(disk), writer)
    rec.attach_caller(caller)
    for t in range(200):
        caller.send(frame(t))
    result = await rec.close()
    writer.stop()
    assert result.failed == "OSError"
    assert rec.frames == 200  # every tick was taken on the media clock
    assert caller.taps_in.failures == caller.taps_out.failures == 0


def test_a_stalled_disk_drops_the_oldest_chunk_and_keeps_the_timeline(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    stream = WavStream(path.open("w+b"))
    writer = DiskWriter(max_chunks=2)  # the thread is not running: the disk "stalls"
    for i in range(4):
        writer.submit(stream, i * 400, np.full(200, i + 1, np.int16).tobytes())
    assert writer.dropped_chunks == 2
    done: list[bool] = []
    writer.close(stream, lambda: done.append(True))
    writer.start()
    writer.stop()
    assert done == [True]
    left, right, n = read(path)
    assert n == 400  # the dropped chunks' place is silence, the later ones where they belong
    assert np.all(left[:200] == 0) and np.all(left[200:300] == 3) and np.all(left[300:] == 4)


async def test_parties_everyone_hears_are_mixed_into_their_side_while_heard(
    tmp_path: Path,
) -> None:
    caller, agent, sup, number = HandMedia(), HandMedia(), HandMedia(), HandMedia()
    writer = DiskWriter()
    writer.start()
    path = tmp_path / "r.wav"
    rec = CallRecorder("c1", new_call(caller), WavStream(path.open("w+b")), writer)
    rec.attach_caller(caller)
    rec.attach_agent(agent)
    for t in range(1, 61):
        if t == 11:
            rec.add_party("sup:sam", sup, "right")  # a supervisor barges in
        if t == 21:
            rec.add_party("number:0", number, "left")  # a third party on the caller's side
        if t == 31:
            rec.remove_party("sup:sam")  # back to listening: out of the recording
        if t == 41:
            rec.add_party("bogus", sup, "middle")  # no such side: nothing happens
        agent.send(frame(100))
        sup.send(frame(20))
        number.send(frame(3))
        caller.send(frame(1), heard=frame(0))
    result = await rec.close()
    writer.stop()
    left, right, n = read(path)
    assert n == 60 * 160 and result.duration == pytest.approx(1.2)
    per_tick_l = [int(v) for v in left.reshape(60, 160)[:, 0]]
    per_tick_r = [int(v) for v in right.reshape(60, 160)[:, 0]]
    assert per_tick_r[2:10] == [100] * 8 and per_tick_r[11:30] == [120] * 19
    assert per_tick_r[31:] == [100] * 29
    assert per_tick_l[:20] == [1] * 20 and per_tick_l[21:] == [4] * 39
    assert not sup.taps_in and not number.taps_in  # all detached at close


async def test_a_loud_party_saturates_instead_of_wrapping_around(tmp_path: Path) -> None:
    caller, agent, sup = HandMedia(), HandMedia(), HandMedia()
    writer = DiskWriter()
    writer.start()
    path = tmp_path / "r.wav"
    rec = CallRecorder("c1", new_call(caller), WavStream(path.open("w+b")), writer)
    rec.attach_caller(caller)
    rec.attach_agent(agent)
    rec.add_party("agent:bo", sup, "right")
    for _ in range(5):
        agent.send(frame(30000))
        sup.send(frame(30000))
        caller.send(frame(-30000), heard=frame(0))
    await rec.close()
    writer.stop()
    _, right, _ = read(path)
    assert int(right.reshape(5, 160)[-1, 0]) == 32767  # not 60000 wrapped to -5536


async def test_the_file_starts_at_the_answer_even_when_the_recorder_attaches_later(
    tmp_path: Path,
) -> None:
    """The answer was at tick 20 (the transcript's origin); making the file took until tick
    24: ticks 21-23 are silence, so the caller's words are at their call time in the file."""
    caller = HandMedia()
    writer = DiskWriter()
    writer.start()
    path = tmp_path / "r.wav"
    position = 0

    def tick_index() -> int:
        return position

    rec = CallRecorder("c1", new_call(caller), WavStream(path.open("w+b")), writer,
                       tick_index=tick_index, origin_tick=20)
    rec.attach_caller(caller)
    for position in (24, 25):
        caller.send(frame(position), heard=frame(7))
    await rec.close()
    writer.stop()
    left, _right, _n = read(path)
    assert [int(v) for v in left.reshape(-1, 160)[:, 0]] == [0, 0, 0, 24, 25]
