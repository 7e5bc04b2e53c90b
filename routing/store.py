"""Where the ACD keeps its state: the `RoutingStore` interface and its in-process version.

Every method is one atomic operation, so a multi-node store implements the same interface
on Redis (`routing.redis_store.RedisRoutingStore`: a sorted set per queue, agent moves and
reservations as Lua compare-and-set scripts, `next_seq` as `INCR`); tests/routing/test_store.py
is the conformance suite both pass. `MemoryRoutingStore` is the in-process version: live state in dicts, and, given a
`SqlRoutingPersistence`, callbacks, queue records, API-made configs and the place-in-line
counter written through to the database.

What survives a restart (with persistence): callbacks, records, configs made through the
API, and the counter (numbers never go backwards, so a restored callback keeps its place
ahead of callers who arrive after the restart). What does not: queue entries (their calls
died with the process) and agents' live status (agents log in again). After `load()` the
engine re-queues the pending callbacks it returns.

Errors (one tree, under `routing.model.RoutingError`):

    RoutingError
     ├── AgentStateError   (routing.model) a state move the agent's state does not allow
     ├── StoreError        the database failed underneath, or the store is closed
     ├── AlreadyStored     add_* with an id that is already stored
     └── NotStored         update_* of an id that was never added

Phone numbers are personal data: they are stored, never logged, never put in error messages.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from routing import tables
from routing.model import (
    OUTCOMES,
    AgentState,
    AgentStatus,
    Callback,
    CallbackState,
    InvalidConfig,
    QueueEntry,
    QueueRecord,
    RoutingError,
)

if TYPE_CHECKING:
    from routing.persistence import SqlRoutingPersistence

PENDING_CALLBACKS = frozenset({CallbackState.WAITING, CallbackState.DIALING})
_FREE = frozenset({AgentState.AVAILABLE})


log = logging.getLogger(__name__)

class StoreError(RoutingError):
    """The database refused or failed an operation (connection lost, disk full, closed)."""


class AlreadyStored(RoutingError):
    """`what` with id `key` is already stored."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} is already stored")
        self.what = what
        self.key = key


class NotStored(RoutingError):
    """`what` with id `key` is not stored."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} is not stored")
        self.what = what
        self.key = key


class RoutingStore(Protocol):
    """The ACD's state. Values passed in are copied, values returned are copies: changing
    one never changes the store (only its methods do, atomically)."""

    async def load(self) -> list[Callback]:
        """Call once at start: returns the pending callbacks in `seq` order. Ones that were
        DIALING when the last process died come back WAITING with
        `last_result="interrupted"` (their dial died with it), so after a restart all are
        WAITING."""
        ...

    async def close(self) -> None:
        """Finish queued writes and release resources. Idempotent."""
        ...

    async def next_seq(self) -> int:
        """The next place-in-line number: strictly increasing, also across restarts."""
        ...

    async def add_entry(self, entry: QueueEntry) -> None:
        """Put `entry` in its queue; raises AlreadyStored if its id is."""
        ...

    async def remove_entry(self, entry_id: str) -> QueueEntry | None:
        """Take the entry out; None if it is not there (someone else took it: lost race)."""
        ...

    async def entry(self, entry_id: str) -> QueueEntry | None: ...

    async def entries(self, queue: str) -> list[QueueEntry]:
        """The entries waiting in `queue`, in no particular order (strategies order them)."""
        ...

    async def agent_status(self, agent_id: str) -> AgentStatus:
        """The agent's live status; an agent never seen is OFFLINE."""
        ...

    async def statuses(self) -> dict[str, AgentStatus]:
        """Every agent's live status that has moved since start, by agent id."""
        ...

    async def transition(
        self,
        agent_id: str,
        new: AgentState,
        *,
        now: float,
        expect: frozenset[AgentState] | None = None,
        reason: str | None = None,
        reserved_for: str | None = None,
        active_delta: int = 0,
        expect_for: str | None = None,
    ) -> AgentStatus | None:
        """Compare-and-set the agent's state: None (nothing changed) if the current state is
        not in `expect`, or `expect_for` is given and the agent is not reserved for that
        entry (an offer ending only its own reservation); otherwise move to `new` at `now` (mono seconds), add `active_delta`
        to `active`, and return the new status. Raises AgentStateError for a move the state
        machine forbids, ValueError for RESERVED without `reserved_for` (or `reserved_for`
        with another state) or a negative `active`."""
        ...

    async def reserve(
        self, pairs: Sequence[tuple[str, str]], *, now: float
    ) -> list[AgentStatus | None]:
        """For each (agent id, entry id): `transition(agent, RESERVED, expect={AVAILABLE},
        reserved_for=entry)`, each pair its own compare-and-set, all in one call (a dispatch
        pass's reservations: one round trip on Redis). Results in the pairs' order."""
        ...

    async def release_reservation(self, entry_id: str, *, now: float) -> list[AgentStatus]:
        """Every agent RESERVED for `entry_id` (normally none or one; two nodes may each have
        reserved one) becomes AVAILABLE at `now` (an offer withdrawn before it ran); returns
        their new statuses. Finding them, checking they are still reserved for this entry
        and releasing them are one atomic step: a reservation made meanwhile for another
        entry is never released."""
        ...

    async def remove_agent(self, agent_id: str) -> AgentStatus | None:
        """Forget an agent's live status (a deleted agent); returns what it was."""
        ...

    async def add_callback(self, cb: Callback) -> None:
        """Store a new callback, durably before returning. Raises AlreadyStored."""
        ...

    async def update_callback(
        self, cb: Callback, *, expect: frozenset[CallbackState] | None = None
    ) -> Callback | None:
        """Replace the stored callback with `cb`, durably before returning, if its stored
        state is in `expect` (any, if None); None if not (nothing changed). Raises NotStored."""
        ...

    async def callback(self, callback_id: str) -> Callback | None: ...

    async def callbacks(
        self, states: Collection[CallbackState] | None = None, queue: str | None = None
    ) -> list[Callback]:
        """Callbacks in `states` (all if None), optionally of one queue, in `seq` order."""
        ...

    async def add_record(self, rec: QueueRecord) -> None:
        """Store a new queue record. Raises AlreadyStored, or ValueError for a `kind` or
        `outcome` outside `routing.model`'s vocabulary."""
        ...

    async def update_record(self, rec: QueueRecord) -> None:
        """Replace the stored record with `rec`. Raises NotStored."""
        ...

    async def records(
        self,
        queue: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[QueueRecord]:
        """Records matching every filter given, `since <= enqueued_wall < until`, in
        `enqueued_wall` order."""
        ...

    async def put_queue(self, name: str, config: dict[str, Any]) -> None:
        """Create or replace a queue made through the API (`config` must be JSON data)."""
        ...

    async def delete_queue(self, name: str) -> bool:
        """False if there was no such queue."""
        ...

    async def queue_configs(self) -> dict[str, dict[str, Any]]: ...

    async def put_agent(self, agent_id: str, config: dict[str, Any]) -> None:
        """Create or replace an agent made through the API (`config` must be JSON data)."""
        ...

    async def delete_agent(self, agent_id: str) -> bool:
        """False if there was no such agent."""
        ...

    async def agent_configs(self) -> dict[str, dict[str, Any]]: ...


def _json_copy(config: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        copied = json.loads(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidConfig(f"not JSON data ({exc})", where) from exc
    if not isinstance(copied, dict):
        raise InvalidConfig("must be a JSON object", where)
    return copied


def _check_record(rec: QueueRecord) -> None:
    if rec.kind not in tables.RECORD_KINDS:
        raise ValueError(f"queue record {rec.id}: kind {rec.kind!r} is not one of {tables.RECORD_KINDS}")
    if rec.outcome is not None and rec.outcome not in OUTCOMES:
        raise ValueError(f"queue record {rec.id}: outcome {rec.outcome!r} is not one of {OUTCOMES}")


def select_records(
    records: Iterable[QueueRecord], queue: str | None, agent: str | None,
    since: float | None, until: float | None,
) -> list[QueueRecord]:
    """`RoutingStore.records`' filter and order over records kept by a store itself."""
    found = [
        r for r in records
        if (queue is None or r.queue == queue)
        and (agent is None or r.agent_id == agent)
        and (since is None or r.enqueued_wall >= since)
        and (until is None or r.enqueued_wall < until)
    ]
    return sorted(found, key=lambda r: (r.enqueued_wall, r.id))


class ApiConfigs:
    """The queue and agent definitions made through the API, the same in every store over
    its `_put`, `_delete` and `_configs_of` (by kind: "queue" or "agent")."""

    async def _put(self, kind: str, key: str, config: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _delete(self, kind: str, key: str) -> bool:
        raise NotImplementedError

    async def _configs_of(self, kind: str) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    async def put_queue(self, name: str, config: dict[str, Any]) -> None:
        await self._put("queue", name, _json_copy(config, f"queue {name}"))

    async def delete_queue(self, name: str) -> bool:
        return await self._delete("queue", name)

    async def queue_configs(self) -> dict[str, dict[str, Any]]:
        return await self._configs_of("queue")

    async def put_agent(self, agent_id: str, config: dict[str, Any]) -> None:
        await self._put("agent", agent_id, _json_copy(config, f"agent {agent_id}"))

    async def delete_agent(self, agent_id: str) -> bool:
        return await self._delete("agent", agent_id)

    async def agent_configs(self) -> dict[str, dict[str, Any]]:
        return await self._configs_of("agent")


class MemoryRoutingStore(ApiConfigs):
    """The in-process `RoutingStore`; durable parts go to `persistence` if one is given.

    Without persistence everything is in memory (unit tests, fake-clock engine tests), and
    finished callbacks and records are kept for the life of the store. With it, memory holds
    only live state and pending callbacks; finished callbacks, records and configs are read
    back from the database.
    """

    def __init__(
        self, persistence: SqlRoutingPersistence | None = None, *, seq_block: int = 100
    ) -> None:
        if seq_block < 1:
            raise ValueError("seq_block must be at least 1")
        self._db = persistence
        self._seq_block = seq_block
        self._seq_next = 1
        self._seq_end = 1 if persistence is not None else 2**63  # reserved: [next, end)
        self._seq_lock = asyncio.Lock()
        # A callback's compare, write-through and memory update happen as one step.
        self._callback_lock = asyncio.Lock()
        self._entries: dict[str, QueueEntry] = {}
        self._by_queue: dict[str, dict[str, QueueEntry]] = {}
        self._agents: dict[str, AgentStatus] = {}
        # Told of every agent state change (the agent desks); with Redis, a pub/sub channel.
        self.state_watchers: list[Callable[[AgentStatus], None]] = []
        self._pending: dict[str, Callback] = {}
        # Without persistence only:
        self._finished: dict[str, Callback] = {}
        self._records: dict[str, QueueRecord] = {}
        self._configs: dict[str, dict[str, dict[str, Any]]] = {"queue": {}, "agent": {}}

    async def load(self) -> list[Callback]:
        if self._db is not None:
            self._pending = {cb.id: cb for cb in await self._db.load_pending()}
        return await self.callbacks(PENDING_CALLBACKS)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()

    # -- place in line ---------------------------------------------------------------------

    async def next_seq(self) -> int:
        async with self._seq_lock:
            if self._seq_next >= self._seq_end:
                assert self._db is not None  # without it the range never runs out
                # A whole block per commit; after a restart the unused rest is skipped,
                # which only leaves a gap.
                self._seq_next = await self._db.reserve_seq(self._seq_block)
                self._seq_end = self._seq_next + self._seq_block
            value = self._seq_next
            self._seq_next += 1
            return value

    # -- queue entries -----------------------------------------------------------------------

    async def add_entry(self, entry: QueueEntry) -> None:
        if entry.id in self._entries:
            raise AlreadyStored("queue entry", entry.id)
        stored = replace(entry)
        self._entries[entry.id] = stored
        self._by_queue.setdefault(entry.queue, {})[entry.id] = stored

    async def remove_entry(self, entry_id: str) -> QueueEntry | None:
        entry = self._entries.pop(entry_id, None)
        if entry is None:
            return None
        in_queue = self._by_queue[entry.queue]
        del in_queue[entry_id]
        if not in_queue:
            del self._by_queue[entry.queue]
        return entry

    async def entry(self, entry_id: str) -> QueueEntry | None:
        entry = self._entries.get(entry_id)
        return None if entry is None else replace(entry)

    async def entries(self, queue: str) -> list[QueueEntry]:
        return [replace(e) for e in self._by_queue.get(queue, {}).values()]

    # -- agents' live status -------------------------------------------------------------------

    async def agent_status(self, agent_id: str) -> AgentStatus:
        status = self._agents.get(agent_id)
        return AgentStatus(agent_id) if status is None else replace(status)

    async def statuses(self) -> dict[str, AgentStatus]:
        return {agent_id: replace(s) for agent_id, s in self._agents.items()}

    async def transition(
        self,
        agent_id: str,
        new: AgentState,
        *,
        now: float,
        expect: frozenset[AgentState] | None = None,
        reason: str | None = None,
        reserved_for: str | None = None,
        active_delta: int = 0,
        expect_for: str | None = None,
    ) -> AgentStatus | None:
        if (new is AgentState.RESERVED) != (reserved_for is not None):
            raise ValueError(f"agent {agent_id}: reserved_for goes with RESERVED, and only with it")
        return self._move(agent_id, new, now=now, expect=expect, reason=reason,
                          reserved_for=reserved_for, active_delta=active_delta,
                          expect_for=expect_for)

    def _move(
        self, agent_id: str, new: AgentState, *, now: float,
        expect: frozenset[AgentState] | None = None, reason: str | None = None,
        reserved_for: str | None = None, active_delta: int = 0, expect_for: str | None = None,
    ) -> AgentStatus | None:
        """`transition`'s compare-and-set: no await from the compare to the set, so it is
        atomic on the event loop."""
        current = self._agents.get(agent_id) or AgentStatus(agent_id)
        if expect is not None and current.state not in expect:
            return None
        if expect_for is not None and current.reserved_for != expect_for:
            return None
        if current.active + active_delta < 0:
            raise ValueError(f"agent {agent_id}: active would drop below 0")
        status = replace(current)
        status.set_state(new, now, reason)
        status.active += active_delta
        if reserved_for is not None:
            status.reserved_for = reserved_for
        self._agents[agent_id] = status
        for watcher in list(self.state_watchers):
            try:
                watcher(replace(status))
            except Exception:
                log.exception("an agent state watcher failed")
        return replace(status)

    async def reserve(
        self, pairs: Sequence[tuple[str, str]], *, now: float
    ) -> list[AgentStatus | None]:
        return [self._move(agent_id, AgentState.RESERVED, now=now, expect=_FREE,
                           reserved_for=entry_id) for agent_id, entry_id in pairs]

    async def release_reservation(self, entry_id: str, *, now: float) -> list[AgentStatus]:
        # No await between the search and the sets: atomic on the event loop.
        found = [agent_id for agent_id, status in self._agents.items()
                 if status.state is AgentState.RESERVED and status.reserved_for == entry_id]
        released = []
        for agent_id in found:
            status = self._move(agent_id, AgentState.AVAILABLE, now=now)
            if status is not None:
                released.append(status)
        return released

    async def remove_agent(self, agent_id: str) -> AgentStatus | None:
        return self._agents.pop(agent_id, None)

    # -- callbacks ---------------------------------------------------------------------------

    async def add_callback(self, cb: Callback) -> None:
        async with self._callback_lock:
            if cb.id in self._pending or cb.id in self._finished:
                raise AlreadyStored("callback", cb.id)
            stored = replace(cb)
            if self._db is not None and not await self._db.insert_callback(stored):
                raise AlreadyStored("callback", cb.id)
            self._keep(stored)

    async def update_callback(
        self, cb: Callback, *, expect: frozenset[CallbackState] | None = None
    ) -> Callback | None:
        async with self._callback_lock:
            current = self._pending.get(cb.id) or self._finished.get(cb.id)
            if current is None and self._db is None:
                raise NotStored("callback", cb.id)
            if current is not None and expect is not None and current.state not in expect:
                return None
            stored = replace(cb)
            if self._db is not None:
                result = await self._db.update_callback(stored, expect)
                if result == "missing":
                    self._pending.pop(cb.id, None)
                    raise NotStored("callback", cb.id)
                if result == "mismatch":
                    # Another process changed it: memory follows the database.
                    self._pending.pop(cb.id, None)
                    fresh = await self._db.callback(cb.id)
                    if fresh is not None:
                        self._keep(fresh)
                    return None
            self._keep(stored)
            return replace(stored)

    def _keep(self, cb: Callback) -> None:
        self._pending.pop(cb.id, None)
        self._finished.pop(cb.id, None)
        if cb.state in PENDING_CALLBACKS:
            self._pending[cb.id] = cb
        elif self._db is None:
            self._finished[cb.id] = cb

    async def callback(self, callback_id: str) -> Callback | None:
        found = self._pending.get(callback_id) or self._finished.get(callback_id)
        if found is not None:
            return replace(found)
        return None if self._db is None else await self._db.callback(callback_id)

    async def callbacks(
        self, states: Collection[CallbackState] | None = None, queue: str | None = None
    ) -> list[Callback]:
        wanted = frozenset(CallbackState) if states is None else frozenset(states)
        if self._db is not None and not wanted <= PENDING_CALLBACKS:
            return await self._db.callbacks(wanted, queue)
        found = [
            replace(cb)
            for cb in (*self._pending.values(), *self._finished.values())
            if cb.state in wanted and (queue is None or cb.queue == queue)
        ]
        return sorted(found, key=lambda cb: cb.seq)

    # -- queue records -----------------------------------------------------------------------

    async def add_record(self, rec: QueueRecord) -> None:
        _check_record(rec)
        if self._db is not None:
            if not await self._db.insert_record(replace(rec)):
                raise AlreadyStored("queue record", rec.id)
            return
        if rec.id in self._records:
            raise AlreadyStored("queue record", rec.id)
        self._records[rec.id] = replace(rec)

    async def update_record(self, rec: QueueRecord) -> None:
        _check_record(rec)
        if self._db is not None:
            if not await self._db.update_record(replace(rec)):
                raise NotStored("queue record", rec.id)
            return
        if rec.id not in self._records:
            raise NotStored("queue record", rec.id)
        self._records[rec.id] = replace(rec)

    async def records(
        self,
        queue: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[QueueRecord]:
        if self._db is not None:
            return await self._db.records(queue, agent, since, until)
        return select_records(
            (replace(r) for r in self._records.values()), queue, agent, since, until)

    # -- configs made through the API --------------------------------------------------------

    async def _put(self, kind: str, key: str, config: dict[str, Any]) -> None:
        if self._db is not None:
            await self._db.put_config(_TABLES[kind], key, config)
        else:
            self._configs[kind][key] = config

    async def _delete(self, kind: str, key: str) -> bool:
        if self._db is not None:
            return await self._db.delete_config(_TABLES[kind], key)
        return self._configs[kind].pop(key, None) is not None

    async def _configs_of(self, kind: str) -> dict[str, dict[str, Any]]:
        if self._db is not None:
            return await self._db.configs(_TABLES[kind])
        return copy.deepcopy(self._configs[kind])


_TABLES = {"queue": tables.queues, "agent": tables.agents}
