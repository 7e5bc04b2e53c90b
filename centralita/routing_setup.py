"""The ACD as `centralita serve` runs it: the routing file, the store with its database, the
SIP connector, case notes, and the engine, started and stopped together; with a case store,
the text router too (`routing.conversations.TextRouter`), fed by the case bus's "messages"
topic and reachable as `RoutingStack.text` and `acd.text_router` (the desk hub's way in)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cases.errors import CaseError
from cases.store import CaseStore
from centralita.call_cases import CallInteractions
from centralita.desk import DeskHub
from centralita.routing_store_config import RoutingStoreSettings
from centralita.settings import ConfigError
from centralita.sip_connector import AgentConnector
from common.tasks import cancel
from media.clock import Clock
from media.ticker import MediaTicker
from routing.acd import Acd
from routing.admin import AcdService
from routing.config import TeamConfig, load_routing
from routing.conversations import TextRouter
from routing.model import InvalidConfig
from routing.persistence import SqlRoutingPersistence
from routing.redis_store import RedisRoutingStore
from routing.repeat import RepeatCheck
from routing.store import MemoryRoutingStore, RoutingStore, StoreError
from routing.takeover import run_takeover
from routing.waiting import Tts
from voice.call import Call
from voice.dialplan import DialPlan
from voice.outbound import Dialer
from voice.sip.registrar import Registrar

log = logging.getLogger(__name__)


class CaseNotes:
    """`routing.channels.CaseLog` over the case store: callbacks' attempts on the case."""

    def __init__(self, store: CaseStore, interactions: CallInteractions) -> None:
        self._store = store
        self._interactions = interactions

    async def case_of_call(self, call: Call) -> int | None:
        try:
            return (await self._interactions.for_call(call)).case_id
        except CaseError as exc:
            log.error("call %s: no case for its callback: %s", call.id, exc)
            return None

    async def note(self, case_id: int, text: str) -> None:
        await self._store.add_note(case_id, author="routing", text=text)


@dataclass
class RoutingStack:
    acd: Acd
    service: AcdService
    store: RoutingStore
    desks: DeskHub
    teams: tuple[TeamConfig, ...] = ()  # who supervises whom (web.case_access)
    text: TextRouter | None = None  # text conversations (None without a case store)
    heartbeat: asyncio.Task[None] | None = None  # the Redis store's node lease
    takeover: asyncio.Task[None] | None = None  # taking over dead nodes (routing.takeover)
    csat: tuple[str, ...] = ()  # the channels whose handled contacts get a CSAT survey

    async def close(self) -> None:
        if self.takeover is not None:
            await cancel(self.takeover)
        if self.text is not None:
            await self.text.stop()
        await self.desks.close()
        await self.acd.close()
        await _close_store(self.store, self.heartbeat)


async def open_store(database_url: str, settings: RoutingStoreSettings) -> RoutingStore:
    """The ACD's store as configured: in process, or on Redis (both over the database)."""
    persistence = await SqlRoutingPersistence.open(database_url, now=time.time)
    if settings.store == "memory":
        return MemoryRoutingStore(persistence)
    log.info("routing state in Redis (node %s)", settings.node_id or "with a random id")
    return RedisRoutingStore.from_url(
        settings.redis_url, prefix=settings.key_prefix, node_id=settings.node_id,
        lease_ttl=settings.lease_ttl, persistence=persistence)


async def _close_store(store: RoutingStore, heartbeat: asyncio.Task[None] | None) -> None:
    if heartbeat is not None:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    if isinstance(store, RedisRoutingStore):
        try:
            await store.leave()  # a clean stop: the others need not wait for the lease
        except StoreError as exc:
            log.error("routing store: could not leave cleanly: %s", exc)
    await store.close()


async def start_routing(
    routing_file: Path, *, database_url: str, clock: Clock, calls: Callable[[], Dialer | None],
    sip_host: str, registrar: Registrar, plan: DialPlan, tts: Tts,
    cases: CaseStore | None, interactions: CallInteractions | None, ticker: MediaTicker,
    webrtc_hosts: Sequence[str] | None,
    store_settings: RoutingStoreSettings | None = None,
) -> RoutingStack:
    """Load the routing file (a `ConfigError` naming the file and key if it is wrong), open
    the store, and start the engine with its pending callbacks. `plan` (the server's dial
    plan) decides who may ask for a callback and which numbers the connector may call."""
    try:
        config = load_routing(routing_file)
    except InvalidConfig as exc:
        raise ConfigError(str(exc)) from exc
    except OSError as exc:
        raise ConfigError(f"{routing_file}: cannot read the routing file: {exc}") from exc
    store = await open_store(database_url, store_settings or RoutingStoreSettings())
    connector = AgentConnector(
        calls, host=sip_host,
        contacts=lambda aor: [b.contact for b in registrar.lookup(aor)],
        plan=plan,
    )
    acd = Acd(store, connector, clock=clock, wall=time.time, tts=tts,
              cases=CaseNotes(cases, interactions)
              if cases is not None and interactions is not None else None,
              queues=config.queues.values(), agents=config.agents.values(),
              callback_gate=plan)
    service = AcdService(acd)
    desks = DeskHub(acd, service, ticker=ticker, cases=cases, host_addresses=webrtc_hosts)
    connector.desks = desks
    if config.repeat is not None and cases is not None:
        acd.repeat = RepeatCheck(config.repeat, cases)
    text = TextRouter(acd, cases) if cases is not None else None
    heartbeat = takeover = None
    try:
        await service.load_persisted()
        await acd.start()  # loads the store: a Redis node joins (its lease) here
        if isinstance(store, RedisRoutingStore):
            heartbeat = asyncio.create_task(store.run_heartbeat(), name="routing-lease")
            # A third of the lease: a dead node's callbacks are dialed from here within
            # about 1.3 lease TTLs of its death.
            takeover = asyncio.create_task(run_takeover(
                store, acd, interval=store.lease_ttl / 3), name="routing-takeover")
        if text is not None and cases is not None:
            if cases.bus is not None:  # subscribed before the restore: no message between
                await text.follow(cases.bus)
            await text.restore()
            text.start()
    except BaseException:
        if takeover is not None:
            await cancel(takeover)
        if text is not None:
            await text.stop()
        await _close_store(store, heartbeat)
        raise
    return RoutingStack(acd, service, store, desks, tuple(config.teams.values()), text,
                        heartbeat, takeover, csat=config.csat)
