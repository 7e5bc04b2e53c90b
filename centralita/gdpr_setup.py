"""Wiring of GDPR export and erasure: which stores hold personal data, registered on `Gdpr`.

Every package that keeps something about a person registers a `cases.gdpr.Holder` here
(a new store, a new search index: one `gdpr.register(...)` line in `holders_for_server`):

    live           refuses while a call of theirs is up; withdraws    below
                   their text conversations from the live line
    routing        callbacks (database rows, the live line, Redis)   routing.erase
    recordings     recording files and index rows                     recordings.erase
    attachments    message attachment bytes (data dir)                below
    voicemail      the IVR's voicemail WAVs (data dir)                below
    debug          the debug API's decoded call audio and records     below
    cases          every case row (always last)                       cases.gdpr_erase

`open_gdpr_offline` builds the same from the settings alone, for `centralita customers`
(the database, the data dir's files, the routing store's Redis; no live state).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from cases.errors import InvalidInput
from cases.gdpr import Archive, ErasureRefused, Subject
from cases.gdpr_erase import Gdpr
from cases.identity import IdentityParser
from cases.store import system_clock
from centralita.recording import make_storage
from recordings.erase import RecordingsHolder
from routing.erase import CallbacksHolder

if TYPE_CHECKING:
    from centralita.server import Server
    from centralita.settings import Settings

Files = Callable[[Subject], Iterable[Path]]


def safe_name(call_id: str) -> str:
    """A call id as the voicemail box and the debug capture name their files."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id)[:100]


class FilesHolder:
    """Files under `root` that belong to a subject: `exported(subject)` are added to the
    archive as `<name>/<file name>`, `erased(subject)` are deleted. Paths outside `root` are
    ignored (a path read from a row is never trusted to point anywhere else)."""

    def __init__(self, name: str, root: Path, exported: Files, erased: Files | None = None,
                 forget: Callable[[Subject], int] | None = None) -> None:
        self.name = name
        self._root = root
        self._exported = exported
        self._erased = erased or exported
        self._forget = forget  # what the process holds in memory (records of calls)

    def _inside(self, paths: Iterable[Path]) -> list[Path]:
        root = self._root.resolve()
        return sorted({p.resolve() for p in paths if p.resolve().is_relative_to(root)})

    async def export(self, subject: Subject, archive: Archive) -> None:
        def add() -> None:
            for path in self._inside(self._exported(subject)):
                if path.is_file():
                    archive.add_file(f"{self.name}/{path.name}", path)

        await asyncio.to_thread(add)

    async def erase(self, subject: Subject) -> dict[str, int]:
        def remove() -> int:
            gone = 0
            for path in self._inside(self._erased(subject)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    gone += 1
            return gone

        counts = {f"{self.name}.files": await asyncio.to_thread(remove)}
        if self._forget is not None:
            counts[f"{self.name}.memory"] = self._forget(subject)
        return counts


def attachments(root: Path) -> FilesHolder:
    """Attachment bytes by content hash; a file another person's message holds too stays."""
    return FilesHolder(
        "attachments", root,
        exported=lambda s: (root / k for k in s.attachment_keys),
        erased=lambda s: (root / k for k in s.attachment_keys
                          if k not in s.shared_attachment_keys))


def voicemail(root: Path) -> FilesHolder:
    """The voicemail box (`ivr.media.recorder.VoicemailBox`): the paths the IVR stored on the
    case, and any `<call id>-<n>.wav` of the person's calls."""
    def files(s: Subject) -> Iterable[Path]:
        yield from (Path(p) for p in s.voicemail_paths)
        for call_id in s.call_ids:
            yield from root.glob(f"{safe_name(call_id)}-*.wav")

    return FilesHolder("voicemail", root, files)


def debug_captures(root: Path, forget: Callable[[Subject], int]) -> FilesHolder:
    """The debug API's decoded audio of each call (`<call id>.wav`), and its call records."""
    return FilesHolder("debug", root,
                       lambda s: (root / f"{safe_name(c)}.wav" for c in s.call_ids),
                       forget=forget)


class LiveState:
    """What the running server holds about a subject in memory: their calls in progress (an
    erasure waits until they end: their transcript and recording are still being written)
    and their text conversations waiting or assigned (withdrawn, so no agent is offered a
    conversation whose messages are gone)."""

    name = "live"

    def __init__(self, server: Server) -> None:
        self._server = server

    async def export(self, subject: Subject, archive: Archive) -> None:
        return None  # nothing that is not in the stores

    async def check(self, subject: Subject) -> None:
        calls = self._server.calls
        if calls is not None and any(c in calls.calls for c in subject.call_ids):
            raise ErasureRefused(self.name, "a call of the customer is in progress")

    async def erase(self, subject: Subject) -> dict[str, int]:
        await self.check(subject)
        routing = self._server.routing
        text = routing.text if routing is not None else None
        withdrawn = 0
        if text is not None:
            for interaction_id in subject.interaction_ids:
                withdrawn += await text.withdraw(interaction_id)
        return {"live.conversations": withdrawn}


def _normalizer(region: str | None) -> Callable[[str], str | None]:
    parser = IdentityParser(region)

    def normalize(number: str) -> str | None:
        try:
            return parser.phone(number)
        except InvalidInput:
            return None

    return normalize


async def holders_for_server(server: Server) -> tuple[Gdpr, Callable[[], Awaitable[None]]]:
    """The running server's `Gdpr` (its live callbacks, recordings and call records), and
    what closes it."""
    from routing.redis_store import RedisRoutingStore

    s = server.settings
    gdpr = await Gdpr.open(s.database_url, now=system_clock)
    closers: list[Callable[[], Awaitable[None]]] = [gdpr.close]
    gdpr.register(LiveState(server))
    routing = server.routing
    redis = routing.store if routing is not None and isinstance(
        routing.store, RedisRoutingStore) else None
    callbacks = await CallbacksHolder.open(
        s.database_url, _normalizer(s.default_region),
        cancel=routing.acd.cancel_callback if routing is not None else None,
        redis=redis.redis if redis is not None else None,
        prefix=redis.prefix if redis is not None else "centralita:routing:")
    closers.append(callbacks.close)
    gdpr.register(callbacks)
    rec = server.recordings
    # Recordings made while recording was on stay after it is turned off: always a holder.
    recordings = await RecordingsHolder.open(
        s.database_url, rec.storage if rec is not None else make_storage(s.data_dir, s.recordings),
        recording=(lambda: tuple(rec.active)) if rec is not None else tuple,
        settled=rec.settled if rec is not None else None)
    closers.append(recordings.close)
    gdpr.register(recordings)
    gdpr.register(attachments(s.data_dir / "attachments"))
    gdpr.register(voicemail(s.data_dir / "recordings"))

    def forget_calls(subject: Subject) -> int:
        calls = server.calls
        if calls is None:
            return 0
        kept = [r for r in calls.records if r.call_id not in subject.call_ids]
        dropped = len(calls.records) - len(kept)
        calls.records.clear()
        calls.records.extend(kept)
        return dropped

    gdpr.register(debug_captures(s.data_dir / "debug", forget_calls))

    async def close() -> None:
        for closer in reversed(closers):
            await closer()

    return gdpr, close


async def open_gdpr_offline(settings: Settings) -> tuple[Gdpr, Callable[[], Awaitable[None]]]:
    """`Gdpr` over the stores the settings name, for the command line (no live state)."""
    s = settings
    from redis.asyncio import Redis

    gdpr = await Gdpr.open(s.database_url, now=system_clock)
    closers: list[Callable[[], Awaitable[None]]] = [gdpr.close]
    redis = Redis.from_url(s.routing.redis_url) if s.routing.store == "redis" else None
    if redis is not None:
        closers.append(redis.aclose)
    callbacks = await CallbacksHolder.open(
        s.database_url, _normalizer(s.default_region), redis=redis,
        prefix=s.routing.key_prefix)
    closers.append(callbacks.close)
    gdpr.register(callbacks)
    recordings = await RecordingsHolder.open(
        s.database_url, make_storage(s.data_dir, s.recordings))
    closers.append(recordings.close)
    gdpr.register(recordings)
    gdpr.register(attachments(s.data_dir / "attachments"))
    gdpr.register(voicemail(s.data_dir / "recordings"))
    gdpr.register(debug_captures(s.data_dir / "debug", lambda _s: 0))

    async def close() -> None:
        for closer in reversed(closers):
            await closer()

    return gdpr, close
