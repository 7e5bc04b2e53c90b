"""A WAV file written while the call runs, readable at every moment, and the disk thread.

Why WAV and not a streaming container (Ogg, raw + sidecar): every player, `sox`, browsers and
Python's `wave` read it with no dependency, and PCM needs no encoder on the media path. Its
one weakness, a header that states the data's length, is handled by writing the data first
and then rewriting the two lengths (RIFF size, data size) about twice a second and at close:
the header never claims more than is on disk, so a `kill -9` leaves a valid file that plays
up to the last rewrite (at most ~0.5 s short; `repair()` recovers even that tail from the
file's size). Compression (Opus) happens after the call (issue 11), not here.

All file work runs on one `DiskWriter` thread per process (STYLE.md §6): the media tick only
appends bytes to a chunk and hands whole chunks over a bounded queue. When the disk stalls
and the queue is full the oldest chunk is dropped and counted; a chunk carries its offset in
the file's timeline, so the writer fills a dropped chunk's place with silence and the two
channels (and the paused spans' offsets) stay where they belong.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

log = logging.getLogger(__name__)

RATE = 8000
CHANNELS = 2
SAMPLE_BYTES = 2
FRAME_BYTES = CHANNELS * SAMPLE_BYTES  # one stereo sample
HEADER_BYTES = 44
# Chunks waiting for the disk, over every recording: 1024 chunks of ~0.5 s each (16 KB) is
# 16 MB; past that the disk is stalled and the oldest audio goes (counted).
QUEUE_CHUNKS = 1024
BATCH_PAUSE_S = 0.05


def wav_header(data_bytes: int, rate: int = RATE, channels: int = CHANNELS) -> bytes:
    """The 44-byte header of a PCM int16 WAV holding `data_bytes` of samples."""
    block = channels * SAMPLE_BYTES
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16)
            + b"data" + struct.pack("<I", data_bytes))


class WavStream:
    """One recording's file: PCM appended at offsets, the header kept true to what's on disk.

    Used by the `DiskWriter` thread only (never on the media tick). `failed` holds the
    class of the first OS error: the recording stops being written, the call goes on.
    """

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.data_bytes = 0
        self.failed: str | None = None
        self.closed = False
        self.file.write(wav_header(0))
        self.file.flush()

    def write_at(self, offset_bytes: int, pcm: bytes) -> None:
        """Append `pcm`, whose first byte belongs at `offset_bytes` of the data (silence fills
        a gap left by dropped chunks), then make the header say so."""
        if self.failed or self.closed:
            return
        try:
            gap = offset_bytes - self.data_bytes
            if gap > 0:
                self.file.write(bytes(gap))
                self.data_bytes += gap
            elif gap < 0:  # never expected: chunks are written in order
                pcm = pcm[-gap:]
            self.file.write(pcm)
            self.data_bytes += len(pcm)
            self._rewrite_header()
        except OSError as exc:
            self.failed = type(exc).__name__

    def _rewrite_header(self) -> None:
        # Data first, then the header that counts it: a kill between the two leaves a header
        # shorter than the data, never longer. The header goes in with one positioned write
        # (pwrite leaves the file offset at the end): two syscalls a chunk, not a flush, two
        # seeks, a write and a flush, for every chunk of every recorded call.
        self.file.flush()
        os.pwrite(self.file.fileno(), wav_header(self.data_bytes), 0)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if not self.failed:
                self._rewrite_header()
                os.fsync(self.file.fileno())
        except OSError as exc:
            self.failed = self.failed or type(exc).__name__
        finally:
            try:
                self.file.close()
            except OSError as exc:
                self.failed = self.failed or type(exc).__name__


def sha256_of(path: os.PathLike[str] | str) -> str:
    """The file's SHA-256 (hex), read in blocks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def repair(path: os.PathLike[str] | str) -> float:
    """Make the header of a file left by a killed writer count every whole stereo sample on
    disk; returns its duration in seconds."""
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        data = max(0, size - HEADER_BYTES) // FRAME_BYTES * FRAME_BYTES
        f.truncate(HEADER_BYTES + data)
        f.seek(0)
        f.write(wav_header(data))
        f.flush()
        os.fsync(f.fileno())
    return data / (RATE * FRAME_BYTES)


@dataclass
class _Close:
    stream: WavStream
    done: Callable[[], None]


@dataclass
class DiskWriter:
    """The one thread that writes every recording, in submission order. `submit` never
    blocks: a full queue drops its oldest chunk (`dropped_chunks`); closes are never dropped
    and keep their place after their recording's chunks."""

    max_chunks: int = QUEUE_CHUNKS
    # The writer sleeps this long after each batch it wrote: what a `kill -9` can lose grows
    # by as much (a chunk is 0.5 s, so a file is still whole up to the last second).
    batch_pause_s: float = BATCH_PAUSE_S
    dropped_chunks: int = 0
    written_chunks: int = 0
    _items: deque[tuple[WavStream, int, bytes] | _Close] = field(default_factory=deque)
    _queued_chunks: int = 0
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _stopping: bool = False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="recordings-disk", daemon=True)
            self._thread.start()

    def submit(self, stream: WavStream, offset_bytes: int, pcm: bytes) -> None:
        """Queue `pcm` for `stream` at `offset_bytes` (called on the media tick)."""
        with self._wake:
            if self._queued_chunks >= self.max_chunks:
                for i, queued in enumerate(self._items):
                    if not isinstance(queued, _Close):
                        del self._items[i]
                        self._queued_chunks -= 1
                        self.dropped_chunks += 1
                        break
            self._items.append((stream, offset_bytes, pcm))
            self._queued_chunks += 1
            self._wake.notify()

    def close(self, stream: WavStream, done: Callable[[], None]) -> None:
        """Close `stream` after its queued chunks; `done()` runs on the writer thread."""
        with self._wake:
            self._items.append(_Close(stream, done))
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._items and not self._stopping:
                    self._wake.wait()
                if not self._items:
                    return
                batch = list(self._items)
                self._items.clear()
                self._queued_chunks = 0
                stopping = self._stopping
            for item in batch:
                try:
                    if isinstance(item, _Close):
                        item.stream.close()
                        item.done()
                    else:
                        item[0].write_at(item[1], item[2])
                        self.written_chunks += 1
                except Exception:  # a bug in one recording must not stop every other's writes
                    log.exception("recording writer failed on one item")
            if not stopping:
                # Let the next batch gather: a wake-up per chunk (800 a second at 400
                # recorded calls) cost the event loop a GIL hand-over each time.
                time.sleep(self.batch_pause_s)

    def stop(self) -> None:
        """Write what is queued, then end the thread (blocking: call off the event loop)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
