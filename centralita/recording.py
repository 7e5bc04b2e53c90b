"""Recording calls, wired into the server (config `recordings: {enabled: true, ...}`).

Off by default: a recording is personal data and in many places needs the caller told
first. The `recordings:` section (recordings.config) sets consent per flow and per queue,
retention per queue, the storage (filesystem or S3) and the webhook.

- `open_recordings` builds the storage, the index (repairing what a killed process left),
  the webhook sender and the retention loop; `Recordings.close()` stops them all.
- `RecordedCalls` wraps the call handler: when the call arrives the consent decision is
  taken once (`Consent.decide`, from the flow the call runs and the queues that flow can
  send it to); if it says so, the flow's announcement ("this call may be recorded") is
  played first (the call answered for it, the flow then starts as usual) and the recorder
  starts on the caller's leg at answer and closes at hangup, with the interaction's queue
  and agent copied onto the row. The announcement is in the recording: proof it was said.
- `agent_recording` is the ACD's bridged hook that puts the agent's leg on the right
  channel; `chain_bridged` runs several bridged hooks (transcription and recording).
- `CaseInteractions` answers, for the review API, whose interaction a recording belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from cases.store import CaseStore
from centralita.beside import run_beside
from centralita.call_cases import CallInteractions
from ivr.media.tts import EspeakTts, TtsError
from media.player import AudioSource, Player
from recordings.config import RecordingConfig
from recordings.service import Recordings
from recordings.storage import FileStorage, RecordingIndex, RecordingRow, RecordingStorage
from recordings.webhook import RecordingWebhook
from voice.call import Call, CallState

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]
BridgedHook = Callable[[Call, Call], Awaitable[None]]
# Text to audio for the consent announcement (`espeak_announcer` in the server).
Speak = Callable[[str], Awaitable[AudioSource]]


def espeak_announcer(tts: EspeakTts) -> Speak:
    """Announcements spoken by espeak-ng (cached: they are the same text every call)."""

    async def speak(text: str) -> AudioSource:
        return Player(await tts.synthesize(text), 8000)

    return speak


def now_utc() -> datetime:
    """The wall clock recordings are filed and indexed by (the composition root's)."""
    return datetime.now(UTC)


class _Closers:
    """Things `Recordings.close()` must also stop (webhook session, retention loop)."""

    def __init__(self, recordings: Recordings) -> None:
        self.items: list[Callable[[], Awaitable[None]]] = []
        inner = recordings.close

        async def close() -> None:
            for item in reversed(self.items):
                try:
                    await item()
                except Exception:
                    log.exception("recordings: stopping a helper failed")
            await inner()

        recordings.close = close  # type: ignore[method-assign]


def make_storage(data_dir: Path, config: RecordingConfig) -> RecordingStorage:
    """FileStorage under DATA_DIR/recordings, or the configured S3 bucket (spool beside)."""
    if config.s3 is None:
        return FileStorage(data_dir / "recordings")
    from recordings.s3 import S3Storage  # boto3 only when S3 is configured

    return S3Storage(config.s3, data_dir / "recordings-spool")


def retention_days(config: RecordingConfig) -> dict[str | None, float]:
    """The retention policy `Recordings.sweep` takes: days per queue, None for the rest."""
    days: dict[str | None, float] = {
        q: p.retention_days for q, p in config.queues.items() if p.retention_days is not None}
    if config.retention_days is not None:
        days[None] = config.retention_days
    return days


async def retention_loop(recordings: Recordings, config: RecordingConfig) -> None:
    """Sweep at start and then every `retention_interval` seconds until cancelled."""
    days = retention_days(config)
    if not days:
        return
    while True:
        try:
            await recordings.sweep(days)
        except Exception:
            log.exception("recordings: a retention sweep failed")
        await asyncio.sleep(config.retention_interval)


async def open_recordings(
    data_dir: Path, database_url: str, config: RecordingConfig | None = None,
) -> Recordings:
    """Recordings as `config` says, indexed in the case database; rows a killed process left
    'recording' are repaired first, files left unfiled are settled in the background."""
    config = config or RecordingConfig(enabled=True)
    index = await RecordingIndex.open(database_url)
    webhook: RecordingWebhook | None = None
    session: aiohttp.ClientSession | None = None
    if config.webhook is not None:
        session = aiohttp.ClientSession()
        webhook = RecordingWebhook(config.webhook, session)
    recordings = await Recordings.open(
        make_storage(data_dir, config), index, wall=now_utc, compress=config.compress,
        notify=webhook.notify if webhook is not None else None)
    closers = _Closers(recordings)
    if webhook is not None and session is not None:
        closers.items.append(session.close)
        closers.items.append(webhook.close)
    sweeper = asyncio.get_running_loop().create_task(retention_loop(recordings, config))

    async def stop_sweeper() -> None:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper

    closers.items.append(stop_sweeper)
    return recordings


# -- consent -----------------------------------------------------------------------------------
class FlowSource(Protocol):
    """Where the flow of a dialed number is found (`ivr.registry.FlowRegistry`)."""

    def flow_for(self, dialed: str) -> Any: ...


_TEMPLATE = re.compile(r"[{}]")


def flow_queues(flow: Any) -> set[str]:
    """The queues a flow names in its `queue` and `callback` steps (templated names, only
    known while the call runs, are left out)."""
    names: set[str] = set()
    for step in getattr(flow, "steps", ()):
        if step.verb in ("queue", "callback"):
            name = step.params.get("name") if isinstance(step.params, dict) else None
            if isinstance(name, str) and not _TEMPLATE.search(name):
                names.add(name)
    return names


@dataclass(frozen=True)
class Decision:
    """Whether a call is recorded, fixed at its start, and what it is told first."""

    record: bool
    announcement: str | None = None
    answers: bool = True  # the flow answers the call (an announcement needs that)


class Consent:
    """Decides at answer whether a call is recorded.

    The flow's `record` overrides the section's default; then any queue the flow can send
    the call to with `record: false` turns it off (the more private choice wins: the caller
    may end up in that queue, and the decision cannot wait until they do). Taken once per
    call: a flow or config reload later does not change a call already running.
    """

    def __init__(self, config: RecordingConfig, flows: Callable[[], FlowSource | None]) -> None:
        self.config = config
        self.flows = flows

    def decide(self, call: Call) -> Decision:
        source = self.flows()
        flow = source.flow_for(call.dialed) if source is not None else None
        return self.decide_for(getattr(flow, "name", None), flow_queues(flow),
                               answers=bool(getattr(flow, "answer", True)))

    def decide_for(self, flow: str | None, queues: Iterable[str], *,
                   answers: bool = True) -> Decision:
        policy = self.config.flows.get(flow) if flow is not None else None
        record = self.config.record
        if policy is not None and policy.record is not None:
            record = policy.record
        for queue in queues:
            q = self.config.queues.get(queue)
            if q is not None and q.record is False:
                record = False
        announcement = policy.announcement if policy is not None and record else None
        return Decision(record, announcement if answers else None, answers)


# -- the call handler --------------------------------------------------------------------------
class CaseInteractions:
    """The interaction of a recorded call, read from the case store: its agent and queue."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    async def handled(self, call_id: str) -> tuple[str | None, str | None]:
        """(agent, queue) of the interaction of `call_id`; (None, None) when there is none.
        (It read the case's whole timeline for each recorded call: at 300 recorded calls of
        one repeat caller that took the media loop's turns.)"""
        return await self.store.call_handled(call_id)

    async def agent_of(self, row: RecordingRow) -> str | None:
        """The agent who handled the recording's call (the row's copy if the case says none)."""
        agent, _ = await self.handled(row.call_id)
        return agent or row.agent


class RecordedCalls:
    """Wraps a call handler: each answered call that consent allows is recorded to its end."""

    def __init__(self, inner: CallHandler, recordings: Recordings,
                 interactions: CallInteractions | None = None, *,
                 consent: Consent | None = None, cases: CaseInteractions | None = None,
                 speak: Speak | None = None) -> None:
        self.inner = inner
        self.recordings = recordings
        self.interactions = interactions
        self.consent = consent
        self.cases = cases
        self.speak = speak
        self.declined = 0
        self.announced = 0

    async def __call__(self, call: Call) -> None:
        if call.media() is None:
            await self.inner(call)
            return
        decision = self.consent.decide(call) if self.consent is not None else Decision(True)
        if not decision.record:
            self.declined += 1
            log.info("call %s: not recorded (consent setting)", call.id)
            await self.inner(call)
            return
        inner = self.inner
        if decision.announcement is not None and self.speak is not None:
            inner = self._announced(decision.announcement)
        await run_beside(call, inner, self._record(call), "recording")

    def _announced(self, text: str) -> CallHandler:
        """The handler with the announcement played first (answering the call for it)."""

        async def run(call: Call) -> None:
            if call.state in (CallState.NEW, CallState.RINGING):
                await call.answer()
            if call.state is CallState.ACTIVE and self.speak is not None:
                try:
                    source = await self.speak(text)
                except TtsError:
                    log.error("call %s: the recording announcement could not be spoken",
                              call.id)
                else:
                    await _play_to_end(call, source)
                    self.announced += 1
            if call.state is not CallState.ENDED:
                await self.inner(call)

        return run

    async def _record(self, call: Call) -> None:
        if not await call.wait_answered():
            return
        # Taken before the file is made (thread hops): the recording starts at the answer,
        # where the transcript's times start (centralita.speech).
        tick_index = self.recordings.tick_index
        origin = tick_index() if tick_index is not None else None
        media = call.media()
        if media is None or call.state is CallState.ENDED:
            return
        started = False
        try:
            await self.recordings.start(call.id, call, media, origin_tick=origin)
            started = True
            if self.interactions is not None:
                with contextlib.suppress(Exception):
                    ref = await self.interactions.for_call(call)
                    await self.recordings.set_interaction(call.id, ref.interaction_id)
            await call.wait_ended()
        finally:
            if started:
                agent = queue = None
                if self.cases is not None:
                    try:
                        agent, queue = await self.cases.handled(call.id)
                    except Exception:
                        log.exception("call %s: its interaction could not be read", call.id)
                # The handler does not wait for compression (one thread does it in turn).
                await self.recordings.finish(call.id, queue=queue, agent=agent, wait=False)


async def _play_to_end(call: Call, source: AudioSource) -> None:
    """Play `source` to the caller until it ends or the caller hangs up."""
    played = call.play(source)
    ended = asyncio.ensure_future(call.wait_ended())
    try:
        await asyncio.wait({played, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ended.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ended


def agent_recording(recordings: Recordings) -> BridgedHook:
    """The agent's leg onto the right channel of the caller's recording, once bridged."""

    async def attach(caller: Call, agent_call: Call) -> None:
        media = agent_call.media()
        if media is not None:
            recordings.attach_agent(caller.id, media)

    return attach


def chain_bridged(*hooks: BridgedHook | None) -> BridgedHook | None:
    """One bridged hook running each given one in turn (a failing one does not stop the
    next); None when none is given."""
    present = [h for h in hooks if h is not None]
    if not present:
        return None

    async def run(caller: Call, agent_call: Call) -> None:
        for hook in present:
            try:
                await hook(caller, agent_call)
            except Exception:
                log.exception("call %s: a bridged hook failed", caller.id)

    return run
