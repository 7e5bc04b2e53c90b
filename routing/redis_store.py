"""`RedisRoutingStore`: the ACD's live state in Redis, shared by several Centralita nodes.

Same interface and behaviour as `routing.store.MemoryRoutingStore` (one conformance suite,
tests/routing/test_store.py, runs on both). Layout under the key prefix `p`:

    p seq                 the one place-in-line counter (INCR), for every node
    p entries             hash: entry id -> entry JSON
    p q:<queue>           sorted set of the queue's entries (their JSON), score (priority, place)
    p agent:<id>          hash: one agent's live status (routing.redis_scripts)
    p agents              set of agents with a status
    p snap                hash: agent id -> status as JSON, for reading them all at once
    p reserved:<entry>    set of the agents reserved for the entry
    p callbacks           hash: callback id -> JSON (pending ones; all without a database)
    p owner               hash: "e:<entry id>" / "c:<callback id>" -> the node that owns it
    p nodes, lease:<node> the nodes that joined, and each one's lease (a key with a TTL)
    p records, cfg:queue, cfg:agent   without a database only

Every compare-and-set is one Lua script (`routing.redis_scripts`), registered once: agent
moves and reservations, the withdrawal of a reservation, taking an entry, a callback's
update, a dead node's takeover.

Nodes and leases: each store is one node (`node_id`). `heartbeat()` renews its lease
(`lease_ttl` seconds; `run_heartbeat()` does it every third of that). A node whose lease ran
out is dead: `take_over_dead()` (any live node, on a timer) gives its callbacks to the caller,
takes its entries out of line (its calls died with it; callback entries are lined up again by
the taker, as after `load()`), frees the agents it had reserved and sends the ones on its
calls to wrap-up. Exactly one live node wins each dead node. `load()` does the same for the
node's own id: a node restarting under its name resumes its own work.

Durable parts: with a `SqlRoutingPersistence` (PostgreSQL for a cluster), callbacks are
written through to the database after Redis accepted the change, finished ones leave Redis,
and records and API-made configs live only in the database. The first node to load into an
empty Redis brings the database's pending callbacks in and raises the counter above every
stored place. Without persistence everything stays in Redis (tests, a throwaway cluster).

Times: each node's engine counts on its own monotonic clock, which another machine does not
share. What goes into Redis is on the wall clock (the node's monotonic time plus its offset,
`time.time() - time.monotonic()` taken when the store is made) and what comes out is put back
on this node's monotonic clock, so a wait, an agent's time in state and the line's aging read
the same on every node (clocks kept in step by NTP, to the millisecond).

Phone numbers are personal data: stored, never logged, never in error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from routing import redis_scripts as lua
from routing.model import (
    AgentState,
    AgentStateError,
    AgentStatus,
    Callback,
    CallbackState,
    QueueEntry,
    QueueRecord,
)
from routing.store import (
    PENDING_CALLBACKS,
    AlreadyStored,
    ApiConfigs,
    NotStored,
    StoreError,
    _check_record,
    select_records,
)

if TYPE_CHECKING:
    from routing.persistence import SqlRoutingPersistence

log = logging.getLogger(__name__)

# A queue entry's score: lower first. Priority (higher first) in the high part, the place in
# line below it; exact in a double for |priority| < 2**12 and places below 2**40.
_PLACE_BITS = 2**40


def entry_score(entry: QueueEntry) -> int:
    """The sorted-set score that orders a queue by (priority, place in line)."""
    return -entry.priority * _PLACE_BITS + entry.seq


@dataclass
class Takeover:
    """What a node took over from a dead one (or from its own last life, at `load()`)."""

    node: str
    entries: list[QueueEntry] = field(default_factory=list)  # taken out of line
    callbacks: list[Callback] = field(default_factory=list)  # pending, now WAITING, ours
    agents: list[str] = field(default_factory=list)  # freed or sent to wrap-up


def _expect_arg(expect: Collection[Any] | None) -> str:
    return "*" if expect is None else "," + ",".join(s.value for s in expect) + ","


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _status(agent_id: str, flat: Sequence[Any], shift: float) -> AgentStatus:
    return _status_of(agent_id, {_s(flat[i]): _s(flat[i + 1]) for i in range(0, len(flat), 2)},
                      shift)


_STATES = {state.value: state for state in AgentState}


def _mono(value: Any, shift: float) -> float:
    """A stored wall time on this node's monotonic clock; 0.0 (never) stays 0.0."""
    return float(value) - shift if value not in (None, "", b"") else 0.0


def _status_of(agent_id: str, fields: dict[str, str], shift: float) -> AgentStatus:
    return AgentStatus(
        agent_id,
        state=_STATES[fields.get("state", "offline")],
        reason=fields.get("reason") or None,
        since=_mono(fields.get("since"), shift),
        idle_since=_mono(fields.get("idle_since"), shift),
        active=int(fields.get("active", 0)),
        reserved_for=fields.get("reserved_for") or None,
    )


def _entry_json(e: QueueEntry, shift: float) -> str:
    # A list, not an object: a line of 1,000 parses faster (the scripts read [2], the queue).
    return json.dumps([e.id, e.queue, e.seq, e.enqueued_mono + shift, e.enqueued_wall,
                       e.priority, list(e.skills), e.kind, e.call_id, e.callback_id])


def _entry(raw: Any, shift: float) -> QueueEntry:
    return QueueEntry(*_entry_row(raw, shift))


def _entry_row(raw: Any, shift: float) -> tuple[Any, ...]:
    """`QueueEntry`'s arguments from its stored JSON text."""
    d = json.loads(raw)
    return (d[0], d[1], d[2], d[3] - shift, d[4], d[5], tuple(d[6]), d[7], d[8], d[9])


def _status_row(raw: Any, shift: float) -> tuple[Any, ...]:
    """`AgentStatus`'s arguments from its JSON text in `<p>snap` (routing.redis_scripts)."""
    v = json.loads(raw)
    return (v[0], _STATES[v[1] or "offline"], v[2] or None, _mono(v[3], shift),
            _mono(v[4], shift), int(v[5] or 0), v[6] or None)


class _Decoded:
    """Rows decoded from stored JSON texts, kept by text from one read to the next: a
    dispatch pass reads every agent and every waiting entry, and most are unchanged since
    the pass before, so it decodes only the texts it has not seen (json.loads of 500
    statuses and 1,000 entries was most of a pass's time). Holds the last read's texts only."""

    def __init__(self, decode: Callable[[Any, float], tuple[Any, ...]]) -> None:
        self._decode = decode
        self._shift = 0.0
        self._rows: dict[Any, tuple[Any, ...]] = {}

    def rows(self, blob: Any, shift: float) -> list[tuple[Any, ...]]:
        """The rows of `blob`, texts one per line (bytes or str, as the client returns),
        with times put on the clock `shift` names (module doc)."""
        if not blob:
            self._rows = {}
            return []
        old, new = (self._rows if shift == self._shift else {}), {}
        self._shift = shift
        for raw in blob.split(b"\n" if isinstance(blob, bytes) else "\n"):
            row = old.get(raw)
            new[raw] = row if row is not None else self._decode(raw, shift)
        self._rows = new
        return list(new.values())


def _callback_json(cb: Callback) -> str:
    data = asdict(cb)
    data["state"] = cb.state.value
    return json.dumps(data)


def _callback(raw: Any) -> Callback:
    data = json.loads(raw)
    data["state"] = CallbackState(data["state"])
    data["skills"] = tuple(data["skills"])
    return Callback(**data)


def _record(raw: Any) -> QueueRecord:
    return QueueRecord(**json.loads(raw))


class RedisRoutingStore(ApiConfigs):
    """The `RoutingStore` on Redis; see the module doc. `redis` is a `redis.asyncio.Redis`
    (the store closes it); every key starts with `prefix`."""

    def __init__(
        self, redis: Redis, *, prefix: str = "centralita:routing:", node_id: str | None = None,
        lease_ttl: float = 10.0, persistence: SqlRoutingPersistence | None = None,
    ) -> None:
        if lease_ttl <= 0:
            raise ValueError("lease_ttl must be above 0 seconds")
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.lease_ttl = lease_ttl
        # This node's monotonic clock -> the wall clock every node shares (module doc).
        self.shift = time.time() - time.monotonic()
        self._db = persistence
        self._closed = False
        # What the last `statuses()` / `entries(queue)` decoded, by stored text.
        self._decoded_statuses = _Decoded(_status_row)
        self._decoded_entries: dict[str, _Decoded] = {}
        # Told of every agent state change this node makes (its agent desks).
        self.state_watchers: list[Callable[[AgentStatus], None]] = []
        register = redis.register_script
        self._transition = register(lua.TRANSITION)
        self._release = register(lua.RELEASE_RESERVATION)
        self._reserve = register(lua.RESERVE)
        self._statuses = register(lua.STATUSES)
        self._remove_agent = register(lua.REMOVE_AGENT)
        self._add_entry = register(lua.ADD_ENTRY)
        self._remove_entry = register(lua.REMOVE_ENTRY)
        self._entries = register(lua.ENTRIES)
        self._add_callback = register(lua.ADD_CALLBACK)
        self._update_callback = register(lua.UPDATE_CALLBACK)
        self._seq_floor = register(lua.SEQ_FLOOR)
        self._take_over = register(lua.TAKE_OVER)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRoutingStore:
        """A store on a new connection pool to `url` (`redis://host:port/db`)."""
        return cls(Redis.from_url(url), **kwargs)

    def _k(self, name: str) -> str:
        return self.prefix + name

    # -- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> list[Callback]:
        """Join the nodes (lease), bring the database's pending callbacks into an empty Redis
        (first node only), resume this node's own work from a previous life, and return the
        pending callbacks this node owns, all WAITING, in `seq` order."""
        await self.heartbeat()
        if self._db is not None:
            won = await self._call(self.redis.set(self._k("loaded"), self.node_id, nx=True))
            if won:
                await self._import_from_database()
        await self.take_over(self.node_id, now=0.0, force=True)
        owners = await self._call(self.redis.hgetall(self._k("owner")))
        mine = {_s(k)[2:] for k, v in owners.items() if _s(k).startswith("c:")
                and _s(v) == self.node_id}
        return [cb for cb in await self.callbacks(PENDING_CALLBACKS) if cb.id in mine]

    async def _import_from_database(self) -> None:
        assert self._db is not None
        pending = await self._db.load_pending()
        floor = await self._db.reserve_seq(1)
        for cb in pending:
            await self._call(self._add_callback(args=[self.prefix, cb.id, _callback_json(cb),
                                                     self.node_id]))
            floor = max(floor, cb.seq + 1)
        await self._call(self._seq_floor(args=[self.prefix, floor - 1]))
        log.info("routing store: %d pending callbacks brought in from the database",
                 len(pending))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.redis.aclose()
        if self._db is not None:
            await self._db.close()

    async def _call(self, awaitable: Any) -> Any:
        if self._closed:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise StoreError("the routing store is closed")
        try:
            return await awaitable
        except RedisError as exc:
            raise StoreError(f"Redis failed under the routing store: {exc}") from exc

    # -- nodes and leases ------------------------------------------------------------------------

    async def heartbeat(self) -> None:
        """Renew this node's lease for `lease_ttl` seconds."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._k(f"lease:{self.node_id}"), "1", px=int(self.lease_ttl * 1000))
            pipe.sadd(self._k("nodes"), self.node_id)
            await self._call(pipe.execute())

    async def run_heartbeat(self) -> None:
        """Renew the lease every third of its TTL until cancelled (a task the server runs)."""
        while True:
            try:
                await self.heartbeat()
            except StoreError as exc:
                log.error("routing store: lease renewal failed: %s", exc)
            await asyncio.sleep(self.lease_ttl / 3)

    async def leave(self) -> None:
        """A clean stop: drop the lease now so others take over at once."""
        await self._call(self.redis.delete(self._k(f"lease:{self.node_id}")))

    async def dead_nodes(self) -> list[str]:
        """Nodes that joined and whose lease ran out."""
        nodes = sorted(_s(n) for n in await self._call(self.redis.smembers(self._k("nodes"))))
        alive = await self._call(self.redis.mget([self._k(f"lease:{n}") for n in nodes])) \
            if nodes else []
        return [n for n, lease in zip(nodes, alive, strict=True) if lease is None]

    async def take_over_dead(self, *, now: float) -> list[Takeover]:
        """Take over every dead node this node wins (see the module doc)."""
        taken = []
        for node in await self.dead_nodes():
            if node == self.node_id:
                continue
            result = await self.take_over(node, now=now)
            if result is not None:
                taken.append(result)
        return taken

    async def take_over(self, node: str, *, now: float, force: bool = False) -> Takeover | None:
        """Take `node`'s work if its lease ran out and no other node took it first (None
        if not); `force` skips those checks (a node resuming its own work)."""
        won, entries, callback_ids, agents = await self._call(self._take_over(
            args=[self.prefix, node, self.node_id, repr(float(now) + self.shift),
                  "1" if force else "0"]))
        if not won:
            return None
        result = Takeover(node, [_entry(raw, self.shift) for raw in entries],
                          agents=[_s(a) for a in agents])
        for cb_id in (_s(c) for c in callback_ids):
            cb = await self.callback(cb_id)
            if cb is None or cb.state not in PENDING_CALLBACKS:
                continue
            if cb.state is CallbackState.DIALING:
                # Its dial died with the node.
                back = replace(cb, state=CallbackState.WAITING, last_result="interrupted")
                if await self.update_callback(
                        back, expect=frozenset({CallbackState.DIALING})) is None:
                    continue
                cb = back
            result.callbacks.append(cb)
        if not force or entries or callback_ids or agents:
            log.info("node %s took over node %s: %d entries, %d callbacks, %d agents",
                     self.node_id, node, len(result.entries), len(result.callbacks),
                     len(result.agents))
        for agent_id in result.agents:
            self._tell(await self.agent_status(agent_id))
        return result

    # -- place in line ---------------------------------------------------------------------------

    async def next_seq(self) -> int:
        return int(await self._call(self.redis.incr(self._k("seq"))))

    # -- queue entries ---------------------------------------------------------------------------

    async def add_entry(self, entry: QueueEntry) -> None:
        added = await self._call(self._add_entry(args=[
            self.prefix, entry.id, entry.queue, entry_score(entry),
            _entry_json(entry, self.shift),
            self.node_id]))
        if not added:
            raise AlreadyStored("queue entry", entry.id)

    async def remove_entry(self, entry_id: str) -> QueueEntry | None:
        raw = await self._call(self._remove_entry(args=[self.prefix, entry_id]))
        return None if raw is None else _entry(raw, self.shift)

    async def entry(self, entry_id: str) -> QueueEntry | None:
        raw = await self._call(self.redis.hget(self._k("entries"), entry_id))
        return None if raw is None else _entry(raw, self.shift)

    async def entries(self, queue: str) -> list[QueueEntry]:
        decoded = self._decoded_entries.get(queue)
        if decoded is None:
            decoded = self._decoded_entries[queue] = _Decoded(_entry_row)
        blob = await self._call(self._entries(args=[self.prefix, queue]))
        return [QueueEntry(*row) for row in decoded.rows(blob, self.shift)]

    # -- agents' live status ---------------------------------------------------------------------

    async def agent_status(self, agent_id: str) -> AgentStatus:
        fields = await self._call(self.redis.hgetall(self._k(f"agent:{agent_id}")))
        return _status(agent_id, [x for pair in fields.items() for x in pair], self.shift)

    async def statuses(self) -> dict[str, AgentStatus]:
        blob = await self._call(self._statuses(args=[self.prefix]))
        return {row[0]: AgentStatus(*row) for row in self._decoded_statuses.rows(blob, self.shift)}

    async def reserve(
        self, pairs: Sequence[tuple[str, str]], *, now: float
    ) -> list[AgentStatus | None]:
        if not pairs:
            return []
        results = await self._call(self._reserve(args=[
            self.prefix, repr(float(now) + self.shift), self.node_id,
            *(x for pair in pairs for x in pair)]))
        return [self._moved(agent_id, AgentState.RESERVED, result)
                for (agent_id, _), result in zip(pairs, results, strict=True)]

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
        result = await self._call(self._transition(args=[
            self.prefix, agent_id, new.value, repr(float(now) + self.shift), _expect_arg(expect),
            reason or "", reserved_for or "", active_delta, self.node_id,
            "*" if expect_for is None else "=" + expect_for]))
        return self._moved(agent_id, new, result)

    def _moved(self, agent_id: str, new: AgentState, result: Sequence[Any]) -> AgentStatus | None:
        kind = _s(result[0])
        if kind == "illegal":
            raise AgentStateError(agent_id, AgentState(_s(result[1])), new)
        if kind == "negative":
            raise ValueError(f"agent {agent_id}: active would drop below 0")
        if kind != "ok":
            return None
        status = _status(agent_id, result[1], self.shift)
        log.info("agent %s: -> %s", agent_id, status.state.value)
        self._tell(status)
        return status

    def _tell(self, status: AgentStatus) -> None:
        for watcher in list(self.state_watchers):
            try:
                watcher(replace(status))
            except Exception:
                log.exception("an agent state watcher failed")

    async def release_reservation(self, entry_id: str, *, now: float) -> list[AgentStatus]:
        out = await self._call(self._release(args=[
            self.prefix, entry_id, repr(float(now) + self.shift), self.node_id]))
        released = []
        for i in range(0, len(out), 2):
            status = _status(_s(out[i]), out[i + 1], self.shift)
            self._tell(status)
            released.append(status)
        return released

    async def remove_agent(self, agent_id: str) -> AgentStatus | None:
        flat = await self._call(self._remove_agent(args=[self.prefix, agent_id]))
        return _status(agent_id, flat, self.shift) if flat else None

    # -- callbacks -------------------------------------------------------------------------------

    async def add_callback(self, cb: Callback) -> None:
        if self._db is not None and await self._db.callback(cb.id) is not None:
            raise AlreadyStored("callback", cb.id)
        added = await self._call(self._add_callback(args=[
            self.prefix, cb.id, _callback_json(cb), self.node_id]))
        if not added:
            raise AlreadyStored("callback", cb.id)
        if self._db is not None and not await self._db.insert_callback(replace(cb)):
            await self._call(self.redis.hdel(self._k("callbacks"), cb.id))
            raise AlreadyStored("callback", cb.id)

    async def update_callback(
        self, cb: Callback, *, expect: frozenset[CallbackState] | None = None
    ) -> Callback | None:
        keep = self._db is None or cb.state in PENDING_CALLBACKS
        result = _s(await self._call(self._update_callback(args=[
            self.prefix, cb.id, _callback_json(cb), _expect_arg(expect), "1" if keep else "0"])))
        if result == "missing":
            # Finished ones live in the database only: compare there.
            if self._db is None:
                raise NotStored("callback", cb.id)
            written = await self._db.update_callback(replace(cb), expect)
            if written == "missing":
                raise NotStored("callback", cb.id)
            return replace(cb) if written == "updated" else None
        if result == "mismatch":
            return None
        if self._db is not None:
            await self._db.update_callback(replace(cb), None)
        return replace(cb)

    async def callback(self, callback_id: str) -> Callback | None:
        raw = await self._call(self.redis.hget(self._k("callbacks"), callback_id))
        if raw is not None:
            return _callback(raw)
        return None if self._db is None else await self._db.callback(callback_id)

    async def callbacks(
        self, states: Collection[CallbackState] | None = None, queue: str | None = None
    ) -> list[Callback]:
        wanted = frozenset(CallbackState) if states is None else frozenset(states)
        if self._db is not None and not wanted <= PENDING_CALLBACKS:
            return await self._db.callbacks(wanted, queue)
        found = [cb for cb in map(_callback, (await self._call(
                     self.redis.hgetall(self._k("callbacks")))).values())
                 if cb.state in wanted and (queue is None or cb.queue == queue)]
        return sorted(found, key=lambda cb: cb.seq)

    # -- queue records ---------------------------------------------------------------------------

    async def add_record(self, rec: QueueRecord) -> None:
        _check_record(rec)
        if self._db is not None:
            if not await self._db.insert_record(replace(rec)):
                raise AlreadyStored("queue record", rec.id)
            return
        if not await self._call(self.redis.hsetnx(self._k("records"), rec.id,
                                                  json.dumps(asdict(rec)))):
            raise AlreadyStored("queue record", rec.id)

    async def update_record(self, rec: QueueRecord) -> None:
        _check_record(rec)
        if self._db is not None:
            if not await self._db.update_record(replace(rec)):
                raise NotStored("queue record", rec.id)
            return
        if not await self._call(self.redis.hexists(self._k("records"), rec.id)):
            raise NotStored("queue record", rec.id)
        await self._call(self.redis.hset(self._k("records"), rec.id, json.dumps(asdict(rec))))

    async def records(
        self,
        queue: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[QueueRecord]:
        if self._db is not None:
            return await self._db.records(queue, agent, since, until)
        raw = await self._call(self.redis.hgetall(self._k("records")))
        return select_records(map(_record, raw.values()), queue, agent, since, until)

    # -- configs made through the API ------------------------------------------------------------

    async def _put(self, kind: str, key: str, config: dict[str, Any]) -> None:
        if self._db is not None:
            await self._db.put_config(_table(kind), key, config)
        else:
            await self._call(self.redis.hset(self._k(f"cfg:{kind}"), key, json.dumps(config)))

    async def _delete(self, kind: str, key: str) -> bool:
        if self._db is not None:
            return await self._db.delete_config(_table(kind), key)
        return bool(await self._call(self.redis.hdel(self._k(f"cfg:{kind}"), key)))

    async def _configs_of(self, kind: str) -> dict[str, dict[str, Any]]:
        if self._db is not None:
            return await self._db.configs(_table(kind))
        raw = await self._call(self.redis.hgetall(self._k(f"cfg:{kind}")))
        return {_s(k): json.loads(v) for k, v in raw.items()}

    # -- tests and tools -------------------------------------------------------------------------

    async def wipe(self) -> int:
        """Delete every key under the prefix (tests, a cluster reset); returns how many."""
        deleted = 0
        with contextlib.suppress(RedisError):
            async for key in self.redis.scan_iter(match=self.prefix + "*", count=500):
                deleted += int(await self.redis.delete(key))
        return deleted


def _table(kind: str) -> Any:
    from routing import tables

    return tables.queues if kind == "queue" else tables.agents
