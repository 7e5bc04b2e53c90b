"""The post-call accuracy pass: after a call, its recording transcribed again, each channel
(party) on its own, with the larger model, in a low-priority process; the case then shows
that transcript (cases.post_segments).

    post = PostCallPass(config, queue, index, storage, cases, cache_dir=..., owner="node-1")
    await post.start()
    post.submit(recording_id, interaction_id)   # when a recording is saved (its notice)
    ...
    await post.close()

One job at a time, taken from the persisted queue (recordings.postcall_queue): a job the
server was running when it stopped is given back (`release`) and runs first at the next
start; after a kill its lease runs out and it is claimed again. The pass runs in
`python -m recordings.postcall_worker`, scheduled SCHED_IDLE or niced (config `priority`),
so it takes only CPU the media clock leaves (bench/postcall.py measures tick lateness with
and without it).

Times. The worker gives seconds of the recording, which starts at the call's answer: the
clock live segments count from too (voice.transcription), so post segments and live ones
are on one clock, and the review player plays either against the same file. Post segments
keep the times whisper found in the recording rather than being forced into the live
segments' boundaries: the live cuts are VAD utterances decoded without context, and gluing
the better words into them would need a word alignment that fails exactly where the live
pass was wrong (words it missed, a sentence split in two); the live segments stay stored.

Paused spans (privacy) are passed to the worker, which transcribes only what lies between
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from cases.post_segments import PassContext, PostSegmentIn
from recordings.postcall_config import PostCallConfig
from recordings.postcall_queue import PostCallJob, PostCallQueue
from recordings.storage import RecordingIndex, RecordingRow, RecordingStorage

log = logging.getLogger(__name__)

WORKER = "recordings.postcall_worker"
# The worker runs from the project's root, so `-m` finds it however the server was started.
PROJECT = str(Path(__file__).resolve().parent.parent)
IDLE_POLL_S = 30.0
# The agent's channel is taken from this long before the agent's first live words (the
# live VAD starts a segment after the first words' onset).
AGENT_LEAD_S = 1.0  # a job queued by another node is found within this


class PassFailed(Exception):
    """The worker failed; the message is a class name or a reason, never call content."""


class TranscriptCases(Protocol):
    """What the pass needs of the case store (cases.store.CaseStore has it)."""

    async def post_pass_context(self, interaction_id: int) -> PassContext: ...

    async def replace_post_segments(
        self, interaction_id: int, segments: list[PostSegmentIn], *, engine: str) -> int: ...


def paused_spans(row: RecordingRow) -> list[tuple[float, float]]:
    """The row's paused spans as (start, end) seconds of the file; one still open at the
    end of the call runs to the end of the file."""
    end_of_file = row.duration if row.duration is not None else 1e9
    spans = []
    for span in row.paused_spans:
        start = float(span.get("start") or 0.0)
        end = span.get("end")
        spans.append((start, float(end) if end is not None else end_of_file))
    return spans


def channels(row: RecordingRow, context: PassContext) -> list[tuple[str, int, float]]:
    """(party, channel, from second of the file) to transcribe. The right channel is what
    the caller heard: prompts and music until an agent answered, so it is the agent's only
    from a little before the agent first spoke live; with no live agent transcript, all of
    it when the call had an agent, none of it otherwise (an IVR-only call)."""
    out = [("caller", 0, 0.0)]
    if context.agent_from is not None:
        out.append(("agent", 1, max(0.0, context.agent_from - AGENT_LEAD_S)))
    elif row.agent is not None:
        out.append(("agent", 1, 0.0))
    return out


def engine_name(model: str) -> str:
    """What the segments' `engine` says: "whisper base (post)"; a directory by its name."""
    return f"whisper {Path(model).name if '/' in model else model} (post)"[:64]


class PostCallPass:
    """Runs the queue's jobs one at a time until closed (see the module doc)."""

    def __init__(
        self, config: PostCallConfig, queue: PostCallQueue, index: RecordingIndex,
        storage: RecordingStorage, cases: TranscriptCases, *, cache_dir: Path | None,
        owner: str, on_done: Callable[[PostCallJob], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.queue = queue
        self.index = index
        self.storage = storage
        self.cases = cases
        self.cache_dir = cache_dir
        self.owner = owner
        self.on_done = on_done
        self.running: PostCallJob | None = None
        self.worker_pid: int | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._submits: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="post-call pass")

    def submit(self, recording_id: str, interaction_id: int | None) -> None:
        """Queue a saved recording (from a synchronous notice); the runner is woken."""
        task = asyncio.get_running_loop().create_task(self._submit(recording_id, interaction_id))
        self._submits.add(task)
        task.add_done_callback(self._submits.discard)

    async def _submit(self, recording_id: str, interaction_id: int | None) -> None:
        try:
            await self.queue.enqueue(recording_id, interaction_id)
        except Exception:
            log.exception("recording %s: queuing its post-call pass failed", recording_id)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                job = await self.queue.claim(self.owner, self.config.lease)
            except Exception:
                log.exception("post-call pass: claiming a job failed")
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    # A killed process's job is claimable once its lease runs out.
                    await asyncio.wait_for(self._wake.wait(),
                                           min(IDLE_POLL_S, self.config.lease / 2))
                continue
            self.running = job
            try:
                await self._do(job)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.queue.release(job.recording_id, self.owner))
                raise
            except PassFailed as exc:
                status = await self.queue.fail(job.recording_id, self.owner, str(exc))
                log.error("recording %s: post-call pass failed (%s), now %s",
                          job.recording_id, exc, status)
            except Exception as exc:
                log.exception("recording %s: post-call pass failed", job.recording_id)
                await self.queue.fail(job.recording_id, self.owner, type(exc).__name__)
            finally:
                self.running = None
            done = await self.queue.get(job.recording_id)
            if done is not None and self.on_done is not None:
                await self.on_done(done)

    async def _do(self, job: PostCallJob) -> None:
        row = await self.index.get(job.recording_id)
        if row is None or row.deleted_wall is not None or row.status == "recording":
            await self.queue.fail(job.recording_id, self.owner, "no recording", retry=False)
            return
        if row.interaction_id is None:
            await self.queue.fail(job.recording_id, self.owner, "no interaction", retry=False)
            return
        context = await self.cases.post_pass_context(row.interaction_id)
        language = context.language
        model = self.config.model_for(language)
        with tempfile.TemporaryDirectory(prefix="postcall-") as tmp:
            path = await asyncio.to_thread(self._local_file, row, Path(tmp))
            request = {
                "path": str(path), "model": model,
                "cache_dir": str(self.cache_dir) if self.cache_dir else None,
                "language": language, "channels": channels(row, context),
                "paused": paused_spans(row), "beam_size": self.config.beam_size,
                "cpu_threads": self.config.cpu_threads, "priority": self.config.priority,
                "nice": self.config.nice,
            }
            lines = await self._work(job, request)
        segments: list[PostSegmentIn] = []
        done: dict[str, Any] = {}
        for line in lines:
            if line.get("type") == "segment":
                start = max(0.0, float(line["start"]))
                segments.append(PostSegmentIn(
                    line["speaker"], start, max(start, float(line["end"])),
                    line["text"], line.get("confidence"), line.get("language")))
            elif line.get("type") == "done":
                done = line
        if not done:
            raise PassFailed("the worker ended without its figures")
        segments.sort(key=lambda s: (s.start, s.speaker))
        stored = await self.cases.replace_post_segments(
            row.interaction_id, segments, engine=engine_name(model))
        langs = set(done.get("languages", {}).values())
        await self.queue.finish(
            job.recording_id, self.owner, model=model[:200],
            language=language or (langs.pop() if len(langs) == 1 else None),
            segments=stored, audio_s=done.get("audio_s"), cpu_s=done.get("cpu_s"),
            wall_s=done.get("wall_s"))
        log.info("recording %s: post-call pass done, %d segments, RTF %.3f", job.recording_id,
                 stored, done["wall_s"] / done["audio_s"] if done.get("audio_s") else 0.0)

    def _local_file(self, row: RecordingRow, tmp: Path) -> Path:
        """The recording as a local file: the file itself, or a copy read from the store."""
        try:
            path = self.storage.local_path(row.location)
            if path.is_file():
                return path
        except ValueError:
            pass
        copy = tmp / f"recording.{row.codec}"
        with copy.open("wb") as out:
            at, size = 0, self.storage.size(row.location)
            while at < size:
                block = self.storage.read(row.location, at, min(1 << 20, size - at))
                if not block:
                    raise OSError(f"short read at {at} of {size}")
                out.write(block)
                at += len(block)
        return copy

    async def _work(self, job: PostCallJob, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the worker on `request`, renewing the job's lease meanwhile; its JSON lines."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", WORKER, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=PROJECT)
        self.worker_pid = proc.pid
        renew = asyncio.get_running_loop().create_task(self._renew(job))
        try:
            out, err = await proc.communicate(json.dumps(request).encode())
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        finally:
            self.worker_pid = None
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        if proc.returncode != 0:
            reason = err.decode(errors="replace").strip().splitlines()
            raise PassFailed(reason[-1][:150] if reason else f"exit {proc.returncode}")
        return [json.loads(line) for line in out.decode().splitlines() if line.strip()]

    async def _renew(self, job: PostCallJob) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.config.lease / 3))
            if not await self.queue.renew(job.recording_id, self.owner, self.config.lease):
                log.warning("recording %s: post-call job lease lost", job.recording_id)

    async def close(self) -> None:
        """Stop: the running job (if any) is given back to the queue, its worker killed."""
        for task in list(self._submits):
            with contextlib.suppress(Exception):
                await task
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.queue.close()
