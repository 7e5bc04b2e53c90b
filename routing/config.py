"""Queue and agent definitions: plain dicts (a YAML file, an API body) to configs and back.

A routing file (`centralita serve --routing FILE`) holds both lists; agents name the queues
they serve, an overflow of kind `queue` names its target:

    queues:
      - name: support
        strategy: skills-weighted     # longest-idle (default), round-robin, skills-weighted
        skills: [english]
        service_level: 20             # answered within N seconds counts as in service level
        max_wait: 300                 # then `overflow`; null: wait for ever
        overflow: {kind: queue, target: sales}   # or voicemail, callback, hangup
        callback_key: "1"             # a DTMF key (0-9, * or #), or null for no callback offer
        deflect_key: "2"              # a key for "text me a chat link" (handover); default null
        moh: default                  # default, a .wav path, or null for silence
        channels: [voice, chat, sms, whatsapp, email]   # what it serves; default [voice]
        response_targets: {chat: 60, email: 14400}      # text first-response targets (s)
        sticky_for: 3600              # a returning customer is offered to their last agent
        language: es                  # its callers' language: only agents speaking it
        hints: [Centralita, Fibra 600]  # phrases its calls' transcripts favour (product names)
        repeat_boost: 0               # its own repeat-contact boost (default: the file's)
    csat: {channels: [voice, sms]}    # optional: a 1-5 survey after contacts an agent handled
    repeat_contacts:                  # optional: repeat contacts go ahead (routing.repeat)
      contacts: 3                     # the customer's 3rd inbound contact or later ...
      days: 7                         # ... within 7 days, on any channel
      priority_boost: 10              # added to the entry's priority in any queue
    agents:
      - id: ana
        name: Ana
        skills: {english: 8}          # levels 1-10
        max_concurrent: 3             # total at once: calls and text conversations
        capacity: {voice: 1, chat: 2, email: 3}   # per channel; unnamed: voice 1, text the total
        queues: [support]
        languages: [en, es]           # what the agent speaks; default [en] (common.languages)
    teams:                            # optional: who supervises whom (case access)
      - name: front
        supervisors: [sam]            # user names of supervisors
        agents: [ana]                 # agent ids from `agents:`

A supervisor sees the cases handled by the agents of their teams (`web.case_access`); when the
file has no `teams:` at all, supervisors see every case, as before teams existed. A supervisor
listed in no team (while teams exist) sees no agent's cases.

Every mistake raises `InvalidConfig(message, where)`: `where` is `body.overflow.kind` for an
API body and `FILE:LINE:COLUMN: queues[1].overflow.kind` for a file. Unknown keys are refused
(with the closest known key as a hint), so a typo never silently means "the default".
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.languages import check_language
from ivr.verbs.base import Problems
from ivr.yamlpos import Located, dotted, load_located
from routing.model import (
    CHANNELS,
    OVERFLOW_KINDS,
    STRATEGIES,
    TEXT_CHANNELS,
    AgentConfig,
    CallbackPolicy,
    InvalidConfig,
    Overflow,
    QueueConfig,
)
from routing.repeat import MAX_BOOST, MAX_DAYS, RepeatPolicy

Path_ = tuple[str | int, ...]

# Queue names, agent ids and skills appear in URLs, flows, SIP user parts and logs.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
DTMF_KEYS = "0123456789*#"
MAX_REASON = 100
MAX_HINTS, MAX_HINT_LEN = 100, 100
SKILL_LEVELS = range(1, 11)

_QUEUE_KEYS = (
    "name", "strategy", "skills", "service_level", "max_wait", "overflow", "announce_every",
    "announce_position", "announce_wait", "moh", "offer_timeout", "wrapup", "callback_key",
    "deflect_key", "callback", "aging_per_s", "default_handle_time", "channels", "response_targets",
    "sticky_for", "language", "repeat_boost", "hints",
)
_AGENT_KEYS = ("id", "name", "skills", "max_concurrent", "contact", "queues", "capacity",
               "languages")
_OVERFLOW_KEYS = ("kind", "target")
_CALLBACK_KEYS = ("max_attempts", "retry_after", "ring_timeout")
_TEAM_KEYS = ("name", "supervisors", "agents")
_FILE_KEYS = ("queues", "agents", "teams", "repeat_contacts", "csat")
_CSAT_KEYS = ("channels",)
_REPEAT_KEYS = ("contacts", "days", "priority_boost")


@dataclass(frozen=True)
class TeamConfig:
    """A team: its supervisors (user names) see the cases its agents (agent ids) handled."""

    name: str
    supervisors: tuple[str, ...]
    agents: tuple[str, ...]


@dataclass(frozen=True)
class RoutingConfig:
    """A routing file's queues and agents, by name, in file order."""

    queues: dict[str, QueueConfig]
    agents: dict[str, AgentConfig]
    teams: dict[str, TeamConfig] = field(default_factory=dict)
    repeat: RepeatPolicy | None = None  # `repeat_contacts:` (None: repeat contacts wait as all)
    # `csat: {channels}`: the channels whose agent-handled contacts get the one-question
    # survey afterwards (centralita.csat_surveys); empty: no surveys.
    csat: tuple[str, ...] = ()


class _Where:
    """Names a place in the value being parsed: `body.overflow.kind`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, path: Path_, *, key: bool = False) -> str:
        inner = dotted(path)
        if not self.prefix:
            return inner
        if not inner:
            return self.prefix
        return f"{self.prefix}{inner}" if inner.startswith("[") else f"{self.prefix}.{inner}"

    def error(self, message: str, path: Path_, *, key: bool = False) -> InvalidConfig:
        return InvalidConfig(message, self(path, key=key))


class _FileWhere(_Where):
    """Names a place in a routing file: `routing.yaml:7:15: queues[1].overflow.kind`."""

    def __init__(self, located: Located) -> None:
        super().__init__("")
        self.located = located

    def __call__(self, path: Path_, *, key: bool = False) -> str:
        pos = self.located.key_at(path) if key else self.located.at(path)
        return f"{pos}: {dotted(path)}" if path else str(pos)


# --- scalar readers: each returns the typed value or raises naming where it was -----------


def _show(value: object) -> str:
    """A value as the user wrote it, short: `"abc"`, `12`, `true`, `null`, `a list`."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str) and len(value) > 40:
        value = value[:37] + "..."
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return type(value).__name__


def _mapping(
    value: object, path: Path_, where: _Where, keys: tuple[str, ...] | None
) -> dict[str, Any]:
    """`value` as a dict whose keys are all in `keys` (any keys when `keys` is None)."""
    if not isinstance(value, dict):
        raise where.error(f"must be a mapping, got {_show(value)}", path)
    if keys is None:
        return value
    for key in value:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f" (did you mean \"{close[0]}\"?)" if close else f"; known: {', '.join(keys)}"
            raise where.error(f"unknown key {_show(str(key))}{hint}", (*path, str(key)), key=True)
    return value


def _name(value: object, path: Path_, where: _Where, what: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise where.error(f"{what} must be {_NAME_RULE}, got {_show(value)}", path)
    return value


def _names(value: object, path: Path_, where: _Where, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise where.error(f"must be a list of {what}s, got {_show(value)}", path)
    seen: set[str] = set()
    for index, item in enumerate(value):
        name = _name(item, (*path, index), where, what)
        if name in seen:
            raise where.error(f"{what} {_show(name)} is listed twice", (*path, index))
        seen.add(name)
    return tuple(value)


def _seconds(value: object, path: Path_, where: _Where, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise where.error(f"must be a number of seconds, got {_show(value)}", path)
    if value < 0 or (value == 0 and not zero_ok):
        bound = "0 or more" if zero_ok else "more than 0"
        raise where.error(f"must be {bound} seconds, got {_show(value)}", path)
    return float(value)


def _int(value: object, path: Path_, where: _Where, lo: int, hi: int | None = None) -> int:
    in_range = isinstance(value, int) and value >= lo and (hi is None or value <= hi)
    if isinstance(value, bool) or not in_range:
        rule = f"{lo}-{hi}" if hi is not None else f"{lo} or more"
        raise where.error(f"must be an integer {rule}, got {_show(value)}", path)
    assert isinstance(value, int)
    return value


def _bool(value: object, path: Path_, where: _Where) -> bool:
    if not isinstance(value, bool):
        raise where.error(f"must be true or false, got {_show(value)}", path)
    return value


def _choice(value: object, path: Path_, where: _Where, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise where.error(f"must be one of {', '.join(choices)}, got {_show(value)}", path)
    return value


def _dtmf_key(value: object, path: Path_, where: _Where) -> str | None:
    # YAML reads an unquoted `1` as the integer 1: take a single digit either way.
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return str(value)
    if not isinstance(value, str) or len(value) != 1 or value not in DTMF_KEYS:
        raise where.error(f"must be one DTMF key (0-9, * or #) or null, got {_show(value)}", path)
    return value


def _moh(value: object, path: Path_, where: _Where) -> str | None:
    # A path must name a .wav file: "defualt" is a typo, not a file to look for at call time.
    if value is None or value == "default":
        return value
    if not isinstance(value, str) or not value.lower().endswith(".wav") or "\0" in value:
        raise where.error(f'must be "default", null or a .wav file path, got {_show(value)}', path)
    return value


def _channels(value: object, path: Path_, where: _Where) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise where.error(f"must be a non-empty list of channels ({', '.join(CHANNELS)}), "
                          f"got {_show(value)}", path)
    seen: list[str] = []
    for index, item in enumerate(value):
        channel = _choice(item, (*path, index), where, CHANNELS)
        if channel in seen:
            raise where.error(f"channel {_show(channel)} listed twice", (*path, index))
        seen.append(channel)
    return tuple(seen)


def _hints(value: object, path: Path_, where: _Where) -> tuple[str, ...]:
    """Phrases (product names) the queue's calls' transcripts should favour."""
    if not isinstance(value, list | tuple) or len(value) > MAX_HINTS:
        raise where.error(f"must be a list of at most {MAX_HINTS} phrases, got {_show(value)}",
                          path)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_HINT_LEN:
            raise where.error(f"a phrase is text of 1-{MAX_HINT_LEN} characters, got "
                              f"{_show(item)}", (*path, index))
    return tuple(dict.fromkeys(item.strip() for item in value))


def _response_targets(value: object, path: Path_, where: _Where) -> tuple[tuple[str, float], ...]:
    raw = _mapping(value, path, where, TEXT_CHANNELS)
    return tuple((channel, _seconds(raw[channel], (*path, channel), where))
                 for channel in TEXT_CHANNELS if channel in raw)


def _capacity(value: object, path: Path_, where: _Where, total: int) -> dict[str, int]:
    raw = _mapping(value, path, where, CHANNELS)
    capacity: dict[str, int] = {}
    for channel in CHANNELS:
        if channel not in raw:
            continue
        at = (*path, channel)
        # A softphone carries one call at a time: more voice would be a promise never kept.
        capacity[channel] = _int(raw[channel], at, where, 0, 1 if channel == "voice" else None)
        if capacity[channel] > total:
            raise where.error(f"{channel} capacity {capacity[channel]} is above max_concurrent "
                              f"{total} (the total across channels)", at)
    return capacity


# --- one queue, one agent ------------------------------------------------------------------


def _overflow(value: object, path: Path_, where: _Where, queue: str) -> Overflow | None:
    if value is None:
        return None
    raw = _mapping(value, path, where, _OVERFLOW_KEYS)
    if "kind" not in raw:
        raise where.error('missing required key "kind"', path)
    kind = _choice(raw["kind"], (*path, "kind"), where, OVERFLOW_KINDS)
    target = raw.get("target")
    if kind != "queue":
        if target is not None:
            raise where.error(f"only kind queue takes a target (kind is {kind})", (*path, "target"))
        return Overflow(kind)
    if target is None:
        raise where.error("kind queue needs a target queue", path)
    target = _name(target, (*path, "target"), where, "queue name")
    if target == queue:
        raise where.error("a queue cannot overflow to itself", (*path, "target"))
    return Overflow(kind, target)


def _callback_policy(value: object, path: Path_, where: _Where) -> CallbackPolicy:
    raw = _mapping(value, path, where, _CALLBACK_KEYS)
    default = CallbackPolicy()
    return CallbackPolicy(
        max_attempts=_int(raw.get("max_attempts", default.max_attempts),
                          (*path, "max_attempts"), where, 1, 20),
        retry_after=_seconds(raw.get("retry_after", default.retry_after),
                             (*path, "retry_after"), where),
        ring_timeout=_seconds(raw.get("ring_timeout", default.ring_timeout),
                              (*path, "ring_timeout"), where),
    )


def _language(value: object, path: Path_, where: _Where) -> str | None:
    """A queue's language: a supported code (common.languages) or null for any."""
    if value is None:
        return None
    try:
        return check_language(value)
    except ValueError as exc:
        raise where.error(str(exc), path) from None


def _languages(value: object, path: Path_, where: _Where) -> tuple[str, ...]:
    """An agent's languages: a list of supported codes, without repeats."""
    if not isinstance(value, list):
        raise where.error(f"must be a list of language codes, got {_show(value)}", path)
    out: list[str] = []
    for i, item in enumerate(value):
        try:
            code = check_language(item)
        except ValueError as exc:
            raise where.error(str(exc), (*path, i)) from None
        if code in out:
            raise where.error(f"language {code!r} listed twice", (*path, i))
        out.append(code)
    return tuple(out)


def _repeat_boost(value: object, path: Path_, where: _Where) -> int | None:
    return None if value is None else _int(value, path, where, 0, MAX_BOOST)


def _repeat_policy(value: object, path: Path_, where: _Where) -> RepeatPolicy:
    """The file's `repeat_contacts`: every key required, so nobody guesses a default."""
    raw = _mapping(value, path, where, _REPEAT_KEYS)
    for key in _REPEAT_KEYS:
        if key not in raw:
            raise where.error(f'missing required key "{key}"', path)
    days = _seconds(raw["days"], (*path, "days"), where)
    if days > MAX_DAYS:
        raise where.error(f"must be at most {MAX_DAYS} days, got {_show(raw['days'])}",
                          (*path, "days"))
    return RepeatPolicy(
        contacts=_int(raw["contacts"], (*path, "contacts"), where, 2, 1000),
        days=days,
        boost=_int(raw["priority_boost"], (*path, "priority_boost"), where, 1, MAX_BOOST))


def _queue(value: object, path: Path_, where: _Where) -> QueueConfig:
    raw = _mapping(value, path, where, _QUEUE_KEYS)
    if "name" not in raw:
        raise where.error('missing required key "name"', path)
    name = _name(raw["name"], (*path, "name"), where, "queue name")
    d = QueueConfig(name)

    def get(key: str, default: object) -> tuple[object, Path_]:
        return raw.get(key, default), (*path, key)

    max_wait, at = get("max_wait", d.max_wait)
    cfg = QueueConfig(
        name=name,
        strategy=_choice(*get("strategy", d.strategy), where, STRATEGIES),
        skills=_names(*get("skills", list(d.skills)), where, "skill"),
        service_level=_seconds(*get("service_level", d.service_level), where),
        max_wait=None if max_wait is None else _seconds(max_wait, at, where),
        overflow=_overflow(*get("overflow", d.overflow), where, name),
        announce_every=_seconds(*get("announce_every", d.announce_every), where, zero_ok=True),
        announce_position=_bool(*get("announce_position", d.announce_position), where),
        announce_wait=_bool(*get("announce_wait", d.announce_wait), where),
        moh=_moh(*get("moh", d.moh), where),
        offer_timeout=_seconds(*get("offer_timeout", d.offer_timeout), where),
        wrapup=_seconds(*get("wrapup", d.wrapup), where, zero_ok=True),
        callback_key=_dtmf_key(*get("callback_key", d.callback_key), where),
        deflect_key=_dtmf_key(*get("deflect_key", d.deflect_key), where),
        callback=_callback_policy(*get("callback", {}), where),
        aging_per_s=_seconds(*get("aging_per_s", d.aging_per_s), where, zero_ok=True),
        default_handle_time=_seconds(*get("default_handle_time", d.default_handle_time), where),
        channels=_channels(*get("channels", list(d.channels)), where),
        response_targets=_response_targets(*get("response_targets", {}), where),
        sticky_for=_seconds(*get("sticky_for", d.sticky_for), where, zero_ok=True),
        language=_language(*get("language", d.language), where),
        repeat_boost=_repeat_boost(*get("repeat_boost", d.repeat_boost), where),
        hints=_hints(*get("hints", list(d.hints)), where),
    )
    if cfg.overflow is not None and cfg.max_wait is None:
        # Overflow happens at the maximum wait; without one it would never happen.
        raise where.error("overflow needs max_wait", (*path, "overflow"))
    if cfg.deflect_key is not None and cfg.deflect_key == cfg.callback_key:
        raise where.error(f"deflect_key {cfg.deflect_key!r} is also the callback_key",
                          (*path, "deflect_key"))
    return cfg


def _agent(value: object, path: Path_, where: _Where) -> AgentConfig:
    raw = _mapping(value, path, where, _AGENT_KEYS)
    if "id" not in raw:
        raise where.error('missing required key "id"', path)
    agent_id = _name(raw["id"], (*path, "id"), where, "agent id")
    name = raw.get("name", "")
    if not isinstance(name, str) or len(name) > 100:
        raise where.error(f"must be text of at most 100 characters, got {_show(name)}",
                          (*path, "name"))
    skills = _mapping(raw.get("skills", {}), (*path, "skills"), where, None)
    levels: dict[str, int] = {}
    for skill, level in skills.items():
        at = (*path, "skills", str(skill))
        _name(skill, at, where, "skill")
        if isinstance(level, bool) or not isinstance(level, int) or level not in SKILL_LEVELS:
            raise where.error(f"skill level must be an integer 1-10, got {_show(level)}", at)
        levels[skill] = level
    contact = raw.get("contact")
    if contact is not None and (
        not isinstance(contact, str) or not re.match(r"sips?:[^\s]+\Z", contact)
    ):
        raise where.error(f"must be a sip: or sips: URI or null, got {_show(contact)}",
                          (*path, "contact"))
    total = _int(raw.get("max_concurrent", 1), (*path, "max_concurrent"), where, 1)
    return AgentConfig(
        id=agent_id,
        name=name,
        skills=levels,
        max_concurrent=total,
        contact=contact,
        queues=_names(raw.get("queues", []), (*path, "queues"), where, "queue name"),
        capacity=_capacity(raw.get("capacity", {}), (*path, "capacity"), where, total),
        languages=_languages(raw.get("languages", []), (*path, "languages"), where),
    )


def parse_queue(value: object, where: str = "body") -> QueueConfig:
    """A `QueueConfig` from a plain dict; `InvalidConfig` names `where.key` on any mistake.

    Absent keys take `QueueConfig`'s defaults. Checks the queue on its own; whether an
    overflow target exists is `check_queue`'s job (it needs the other queues)."""
    return _queue(value, (), _Where(where))


def parse_agent(value: object, where: str = "body") -> AgentConfig:
    """An `AgentConfig` from a plain dict (see `parse_queue`; `check_agent` for its queues)."""
    return _agent(value, (), _Where(where))


# --- references between definitions ---------------------------------------------------------


def _check_queue(
    cfg: QueueConfig, queues: Mapping[str, QueueConfig], path: Path_, where: _Where
) -> None:
    if cfg.overflow is None or cfg.overflow.target is None:
        return
    at = (*path, "overflow", "target")
    if cfg.overflow.target not in queues:
        raise where.error(f"unknown queue {_show(cfg.overflow.target)}", at)
    # Follow the chain from `cfg`: coming back to it would bounce callers for ever. A loop
    # that does not pass through `cfg` is reported when its own queues are checked.
    chain = [cfg.name]
    target: str | None = cfg.overflow.target
    while target is not None and target not in chain:
        chain.append(target)
        nxt = queues.get(target)
        target = nxt.overflow.target if nxt is not None and nxt.overflow is not None else None
    if target == cfg.name:
        raise where.error(f"overflow loop: {' -> '.join([*chain, target])}", at)


def _check_agent(
    cfg: AgentConfig, queues: Mapping[str, object], path: Path_, where: _Where
) -> None:
    for index, queue in enumerate(cfg.queues):
        if queue not in queues:
            raise where.error(f"agent {_show(cfg.id)} serves unknown queue {_show(queue)}",
                              (*path, "queues", index))


def check_queue(cfg: QueueConfig, queues: Mapping[str, QueueConfig], where: str = "body") -> None:
    """Refuse an overflow to a queue not in `queues`, or one that loops back to `cfg`."""
    _check_queue(cfg, queues, (), _Where(where))


def check_agent(cfg: AgentConfig, queues: Mapping[str, object], where: str = "body") -> None:
    """Refuse an agent who serves a queue not in `queues`."""
    _check_agent(cfg, queues, (), _Where(where))


def queue_references(
    name: str, queues: Mapping[str, QueueConfig], agents: Mapping[str, AgentConfig]
) -> list[str]:
    """What would be left pointing at nothing if queue `name` went: `queue "a" overflows to
    it`, `agent "ana" serves it`, in that order."""
    found = [f"queue {_show(q.name)} overflows to it" for q in queues.values()
             if q.overflow is not None and q.overflow.target == name and q.name != name]
    found += [f"agent {_show(a.id)} serves it" for a in agents.values() if name in a.queues]
    return found


# --- back to plain dicts ------------------------------------------------------------------


def queue_to_dict(cfg: QueueConfig) -> dict[str, Any]:
    """Every field of `cfg` as JSON/YAML values; `parse_queue` reads it back unchanged."""
    cb = cfg.callback
    return {
        "name": cfg.name, "strategy": cfg.strategy, "skills": list(cfg.skills),
        "service_level": cfg.service_level, "max_wait": cfg.max_wait,
        "overflow": cfg.overflow.to_dict() if cfg.overflow is not None else None,
        "announce_every": cfg.announce_every, "announce_position": cfg.announce_position,
        "announce_wait": cfg.announce_wait, "moh": cfg.moh, "offer_timeout": cfg.offer_timeout,
        "wrapup": cfg.wrapup, "callback_key": cfg.callback_key,
        "deflect_key": cfg.deflect_key,
        "callback": {"max_attempts": cb.max_attempts, "retry_after": cb.retry_after,
                     "ring_timeout": cb.ring_timeout},
        "aging_per_s": cfg.aging_per_s, "default_handle_time": cfg.default_handle_time,
        "channels": list(cfg.channels), "response_targets": dict(cfg.response_targets),
        "sticky_for": cfg.sticky_for, "language": cfg.language,
        "repeat_boost": cfg.repeat_boost,
    }


def agent_to_dict(cfg: AgentConfig) -> dict[str, Any]:
    """Every field of `cfg` as JSON/YAML values; `parse_agent` reads it back unchanged."""
    return {"id": cfg.id, "name": cfg.name, "skills": dict(cfg.skills),
            "max_concurrent": cfg.max_concurrent, "contact": cfg.contact,
            "queues": list(cfg.queues), "capacity": dict(cfg.capacity),
            "languages": list(cfg.languages)}


# --- the routing file -----------------------------------------------------------------------


def load_routing(path: Path) -> RoutingConfig:
    """Read and check a routing file; `InvalidConfig` with `FILE:LINE:COLUMN: key` otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidConfig(f"cannot read: {exc.strerror}", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InvalidConfig("not UTF-8 text", str(path)) from exc
    return parse_routing(text, str(path))


def parse_routing(text: str, file: str) -> RoutingConfig:
    """A routing file's text (named `file` in errors) as a checked `RoutingConfig`."""
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise InvalidConfig("empty routing file (expected queues: and agents:)", f"{file}:1:1")
    problems = Problems()
    located = load_located(text, file, problems)
    if problems or located is None:
        pos, message = min(problems.items, key=lambda p: (p[0].line, p[0].column))
        raise InvalidConfig(message, str(pos))
    where = _FileWhere(located)
    raw = _mapping(located.value, (), where, _FILE_KEYS)
    queues: dict[str, QueueConfig] = {}
    for index, item in enumerate(_list(raw.get("queues", []), ("queues",), where)):
        cfg = _queue(item, ("queues", index), where)
        if cfg.name in queues:
            first = list(queues).index(cfg.name)
            raise where.error(f"duplicate queue {_show(cfg.name)} (first at queues[{first}])",
                              ("queues", index, "name"))
        queues[cfg.name] = cfg
    for index, cfg in enumerate(queues.values()):
        _check_queue(cfg, queues, ("queues", index), where)
    agents: dict[str, AgentConfig] = {}
    for index, item in enumerate(_list(raw.get("agents", []), ("agents",), where)):
        agent = _agent(item, ("agents", index), where)
        if agent.id in agents:
            first = list(agents).index(agent.id)
            raise where.error(f"duplicate agent {_show(agent.id)} (first at agents[{first}])",
                              ("agents", index, "id"))
        _check_agent(agent, queues, ("agents", index), where)
        agents[agent.id] = agent
    teams: dict[str, TeamConfig] = {}
    for index, item in enumerate(_list(raw.get("teams", []), ("teams",), where)):
        team = _team(item, ("teams", index), where, agents)
        if team.name in teams:
            first = list(teams).index(team.name)
            raise where.error(f"duplicate team {_show(team.name)} (first at teams[{first}])",
                              ("teams", index, "name"))
        teams[team.name] = team
    repeat = raw.get("repeat_contacts")
    policy = None if repeat is None else _repeat_policy(repeat, ("repeat_contacts",), where)
    csat: tuple[str, ...] = ()
    if raw.get("csat") is not None:
        survey = _mapping(raw["csat"], ("csat",), where, _CSAT_KEYS)
        csat = _channels(survey.get("channels", list(CHANNELS)), ("csat", "channels"), where)
    return RoutingConfig(queues, agents, teams, policy, csat)


def _team(
    value: object, path: Path_, where: _Where, agents: Mapping[str, AgentConfig]
) -> TeamConfig:
    raw = _mapping(value, path, where, _TEAM_KEYS)
    if "name" not in raw:
        raise where.error('missing required key "name"', path)
    name = _name(raw["name"], (*path, "name"), where, "team name")
    supervisors = _names(raw.get("supervisors", []), (*path, "supervisors"), where,
                         "supervisor name")
    members = _names(raw.get("agents", []), (*path, "agents"), where, "agent id")
    for index, agent in enumerate(members):
        if agent not in agents:
            raise where.error(f"no agent {_show(agent)} in agents:", (*path, "agents", index))
    return TeamConfig(name, supervisors, members)


def _list(value: object, path: Path_, where: _Where) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(f"must be a list, got {_show(value)}", path)
    return value
