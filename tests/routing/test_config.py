"""Routing definitions: good ones load and round-trip, every bad one says what and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from centralita.cli import _build_parser
from centralita.settings import load_settings
from routing.config import (
    agent_to_dict,
    check_agent,
    check_queue,
    load_routing,
    parse_agent,
    parse_queue,
    parse_routing,
    queue_to_dict,
)
from routing.model import AgentConfig, CallbackPolicy, InvalidConfig, Overflow, QueueConfig

DEMO = Path(__file__).resolve().parents[2] / "routing" / "demo.yaml"

FULL_QUEUE = {
    "name": "support", "strategy": "round-robin", "skills": ["english", "tier-2"],
    "service_level": 15.0, "max_wait": 120.0, "overflow": {"kind": "queue", "target": "sales"},
    "announce_every": 0.0, "announce_position": False, "announce_wait": True,
    "moh": "/srv/moh/jazz.wav", "offer_timeout": 12.5, "wrapup": 0.0, "callback_key": "#",
    "deflect_key": "9",
    "callback": {"max_attempts": 5, "retry_after": 90.0, "ring_timeout": 20.0},
    "aging_per_s": 0.5, "default_handle_time": 240.0,
    "channels": ["voice", "chat", "email"], "response_targets": {"chat": 30.0},
    "sticky_for": 600.0, "language": "en", "repeat_boost": 5,
}
FULL_AGENT = {
    "id": "ana.garcia", "name": "Ana García", "skills": {"english": 8, "spanish": 10},
    "max_concurrent": 2, "contact": "sip:ana@10.0.0.7:5062", "queues": ["support", "sales"],
    "capacity": {"voice": 1, "chat": 2}, "languages": ["es", "en"],
}


def test_demo_file_loads() -> None:
    routing = load_routing(DEMO)
    assert list(routing.queues) == ["support", "sales", "billing"]
    assert routing.queues["support"].overflow == Overflow("queue", "sales")
    assert routing.queues["support"].callback_key == "2"
    assert routing.agents["ana"].skills == {"english": 8, "spanish": 10}
    assert routing.agents["bob"].queues == ("support", "sales", "billing")


def test_round_trip_dict_config_dict() -> None:
    queue = parse_queue(FULL_QUEUE)
    assert queue.overflow == Overflow("queue", "sales")
    assert queue.callback == CallbackPolicy(5, 90.0, 20.0)
    assert queue_to_dict(queue) == FULL_QUEUE
    assert parse_queue(queue_to_dict(queue)) == queue
    agent = parse_agent(FULL_AGENT)
    assert agent_to_dict(agent) == FULL_AGENT
    assert parse_agent(agent_to_dict(agent)) == agent


def test_absent_keys_take_the_defaults() -> None:
    assert parse_queue({"name": "q"}) == QueueConfig("q")
    assert parse_agent({"id": "a"}) == AgentConfig("a")
    assert parse_queue(queue_to_dict(QueueConfig("q"))) == QueueConfig("q")


def test_unquoted_digit_key_and_null_moh_and_overflow_kinds() -> None:
    routing = parse_routing(
        "queues:\n"
        "  - {name: a, callback_key: 1, moh: null, max_wait: 10, overflow: {kind: hangup}}\n"
        "  - {name: b, callback_key: null, max_wait: 10, overflow: {kind: voicemail, target: null}}\n",
        "r.yaml",
    )
    assert routing.queues["a"].callback_key == "1"
    assert routing.queues["a"].moh is None
    assert routing.queues["a"].overflow == Overflow("hangup")
    assert routing.queues["b"].callback_key is None
    assert routing.queues["b"].overflow == Overflow("voicemail")
    assert routing.agents == {}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "r.yaml:1:1: empty routing file (expected queues: and agents:)"),
        ("# nothing\n\n", "r.yaml:1:1: empty routing file (expected queues: and agents:)"),
        ("queues: [{name: a}\n", "r.yaml:2:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
        ("queues: []\nqueues: []\n", "r.yaml:2:1: duplicate key 'queues'"),
        ("- a\n", "r.yaml:1:1: must be a mapping, got a list"),
        ("queue: []\n", 'r.yaml:1:1: queue: unknown key "queue" (did you mean "queues"?)'),
        ("queues: {name: a}\n", "r.yaml:1:9: queues: must be a list, got a mapping"),
        ("agents: 3\n", "r.yaml:1:9: agents: must be a list, got 3"),
        ("queues: [support]\n", 'r.yaml:1:10: queues[0]: must be a mapping, got "support"'),
        ("queues:\n  - strategy: round-robin\n", 'r.yaml:2:5: queues[0]: missing required key "name"'),
        (
            "queues:\n  - name: a\n  - name: b\n    overflow: {kind: lift}\n",
            'r.yaml:4:22: queues[1].overflow.kind: must be one of queue, voicemail, callback, '
            'hangup, got "lift"',
        ),
        (
            "queues:\n  - name: a\n    overflow: {kind: queue, target: nowhere}\n    max_wait: 60\n",
            'r.yaml:3:37: queues[0].overflow.target: unknown queue "nowhere"',
        ),
        (
            "queues:\n  - {name: a, max_wait: 9, overflow: {kind: queue, target: b}}\n"
            "  - {name: b, max_wait: 9, overflow: {kind: queue, target: a}}\n",
            "r.yaml:2:60: queues[0].overflow.target: overflow loop: a -> b -> a",
        ),
        (
            "queues:\n  - {name: a}\n  - {name: b}\n  - {name: a}\n",
            'r.yaml:4:12: queues[2].name: duplicate queue "a" (first at queues[0])',
        ),
        (
            "queues: [{name: a}]\nagents:\n  - id: ana\n    queues: [a, billing]\n",
            'r.yaml:4:17: agents[0].queues[1]: agent "ana" serves unknown queue "billing"',
        ),
        (
            "queues: [{name: a}]\nagents:\n  - {id: ana}\n  - {id: ana}\n",
            'r.yaml:4:10: agents[1].id: duplicate agent "ana" (first at agents[0])',
        ),
        (
            "agents:\n  - id: ana\n    skils: {english: 3}\n",
            'r.yaml:3:5: agents[0].skils: unknown key "skils" (did you mean "skills"?)',
        ),
        (
            "agents:\n  - id: ana\n    skills: {english: 11}\n",
            "r.yaml:3:23: agents[0].skills.english: skill level must be an integer 1-10, got 11",
        ),
    ],
)
def test_file_errors_name_file_line_column_and_key(text: str, error: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        parse_routing(text, "r.yaml")
    assert str(info.value) == error


def test_load_routing_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("queues:\n  - name: a\n    wrapup: -1\n", encoding="utf-8")
    with pytest.raises(InvalidConfig) as info:
        load_routing(path)
    assert str(info.value) == f"{path}:3:13: queues[0].wrapup: must be 0 or more seconds, got -1"
    assert info.value.where == f"{path}:3:13: queues[0].wrapup"
    assert info.value.reason == "must be 0 or more seconds, got -1"
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InvalidConfig) as info:
        load_routing(missing)
    assert str(info.value) == f"{missing}: cannot read: No such file or directory"


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        ({"name": "a b"}, "body.name", "queue name must be 1-64 letters, digits, '.', '_' or '-', "
         'starting with a letter or digit, got "a b"'),
        ({"name": "x" * 65}, "body.name", "queue name must be 1-64 letters, digits, '.', '_' or "
         "'-', starting with a letter or digit, got \"" + "x" * 37 + '..."'),
        ({"strategy": "random"}, "body.strategy",
         'must be one of longest-idle, round-robin, skills-weighted, got "random"'),
        ({"skills": "english"}, "body.skills", 'must be a list of skills, got "english"'),
        ({"skills": ["a", "a"]}, "body.skills[1]", 'skill "a" is listed twice'),
        ({"skills": ["ok", 3]}, "body.skills[1]",
         "skill must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got 3"),
        ({"service_level": 0}, "body.service_level", "must be more than 0 seconds, got 0"),
        ({"service_level": "20"}, "body.service_level", 'must be a number of seconds, got "20"'),
        ({"service_level": True}, "body.service_level", "must be a number of seconds, got true"),
        ({"max_wait": float("inf")}, "body.max_wait", "must be a number of seconds, got inf"),
        ({"max_wait": -5}, "body.max_wait", "must be more than 0 seconds, got -5"),
        ({"overflow": {"kind": "callback"}}, "body.overflow", "overflow needs max_wait"),
        ({"overflow": "hangup", "max_wait": 5}, "body.overflow", 'must be a mapping, got "hangup"'),
        ({"overflow": {"target": "b"}, "max_wait": 5}, "body.overflow", 'missing required key "kind"'),
        ({"overflow": {"kind": "queue"}, "max_wait": 5}, "body.overflow",
         "kind queue needs a target queue"),
        ({"overflow": {"kind": "queue", "target": "q"}, "max_wait": 5}, "body.overflow.target",
         "a queue cannot overflow to itself"),
        ({"overflow": {"kind": "voicemail", "target": "b"}, "max_wait": 5}, "body.overflow.target",
         "only kind queue takes a target (kind is voicemail)"),
        ({"overflow": {"kind": "hangup", "after": 3}, "max_wait": 5}, "body.overflow.after",
         'unknown key "after"; known: kind, target'),
        ({"announce_every": -1}, "body.announce_every", "must be 0 or more seconds, got -1"),
        ({"announce_position": "yes"}, "body.announce_position", 'must be true or false, got "yes"'),
        ({"moh": "defualt"}, "body.moh", 'must be "default", null or a .wav file path, got "defualt"'),
        ({"offer_timeout": 0}, "body.offer_timeout", "must be more than 0 seconds, got 0"),
        ({"callback_key": "12"}, "body.callback_key",
         'must be one DTMF key (0-9, * or #) or null, got "12"'),
        ({"callback_key": 10}, "body.callback_key", "must be one DTMF key (0-9, * or #) or null, got 10"),
        ({"callback_key": "A"}, "body.callback_key", 'must be one DTMF key (0-9, * or #) or null, got "A"'),
        ({"deflect_key": "1"}, "body.deflect_key", "deflect_key '1' is also the callback_key"),
        ({"deflect_key": "22"}, "body.deflect_key",
         'must be one DTMF key (0-9, * or #) or null, got "22"'),
        ({"callback": {"max_attempts": 0}}, "body.callback.max_attempts",
         "must be an integer 1-20, got 0"),
        ({"callback": {"max_attempts": 2.5}}, "body.callback.max_attempts",
         "must be an integer 1-20, got 2.5"),
        ({"callback": {"ring_timeout": 0}}, "body.callback.ring_timeout",
         "must be more than 0 seconds, got 0"),
        ({"callback": {"retries": 1}}, "body.callback.retries",
         'unknown key "retries"; known: max_attempts, retry_after, ring_timeout'),
        ({"aging_per_s": -0.1}, "body.aging_per_s", "must be 0 or more seconds, got -0.1"),
        ({"default_handle_time": None}, "body.default_handle_time",
         "must be a number of seconds, got null"),
        ({"maxwait": 3}, "body.maxwait", 'unknown key "maxwait" (did you mean "max_wait"?)'),
    ],
)
def test_queue_body_errors(change: dict[str, object], where: str, reason: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        parse_queue({"name": "q", **change})
    assert (info.value.where, info.value.reason) == (where, reason)


@pytest.mark.parametrize(
    ("body", "where", "reason"),
    [
        ([], "body", "must be a mapping, got a list"),
        ({"name": "Ana"}, "body", 'missing required key "id"'),
        ({"id": "ana", "name": 7}, "body.name", "must be text of at most 100 characters, got 7"),
        ({"id": "ana", "skills": ["english"]}, "body.skills", "must be a mapping, got a list"),
        ({"id": "ana", "skills": {"english": 0}}, "body.skills.english",
         "skill level must be an integer 1-10, got 0"),
        ({"id": "ana", "skills": {"english": True}}, "body.skills.english",
         "skill level must be an integer 1-10, got true"),
        ({"id": "ana", "skills": {"en glish": 3}}, "body.skills.en glish",
         "skill must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, "
         'got "en glish"'),
        ({"id": "ana", "max_concurrent": 0}, "body.max_concurrent", "must be an integer 1 or more, got 0"),
        ({"id": "ana", "contact": "ana@host"}, "body.contact",
         'must be a sip: or sips: URI or null, got "ana@host"'),
        ({"id": "ana", "queues": ["a", "a"]}, "body.queues[1]", 'queue name "a" is listed twice'),
        ({"id": "ana", "queue": ["a"]}, "body.queue", 'unknown key "queue" (did you mean "queues"?)'),
    ],
)
def test_agent_body_errors(body: object, where: str, reason: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        parse_agent(body)
    assert (info.value.where, info.value.reason) == (where, reason)


def test_reference_checks_against_existing_queues() -> None:
    queues = {"a": QueueConfig("a", max_wait=5, overflow=Overflow("queue", "b")), "b": QueueConfig("b")}
    looping = QueueConfig("b", max_wait=5, overflow=Overflow("queue", "a"))
    with pytest.raises(InvalidConfig) as info:
        check_queue(looping, queues)
    assert str(info.value) == "body.overflow.target: overflow loop: b -> a -> b"
    check_queue(QueueConfig("c", max_wait=5, overflow=Overflow("queue", "a")), queues)
    with pytest.raises(InvalidConfig) as info:
        check_queue(QueueConfig("c", max_wait=5, overflow=Overflow("queue", "z")), queues)
    assert str(info.value) == 'body.overflow.target: unknown queue "z"'
    check_agent(AgentConfig("ana", queues=("a", "b")), queues)
    with pytest.raises(InvalidConfig) as info:
        check_agent(AgentConfig("ana", queues=("a", "z")), queues)
    assert str(info.value) == 'body.queues[1]: agent "ana" serves unknown queue "z"'


def test_routing_file_setting_and_flag(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("routing_file: routing/demo.yaml\n", encoding="utf-8")
    assert load_settings(config, {}).routing_file == Path("routing/demo.yaml")
    assert load_settings(None, {"routing_file": "other.yaml"}).routing_file == Path("other.yaml")
    assert load_settings(None, {}).routing_file is None
    args = _build_parser().parse_args(["serve", "--routing", "r.yaml"])
    assert args.routing == Path("r.yaml")
