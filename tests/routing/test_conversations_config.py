"""The routing file's text keys: a queue's `channels`, `response_targets` and `sticky_for`,
an agent's per-channel `capacity` under `max_concurrent` (the total), each mistake named
by file:line:column and key; the demo file routes every channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.config import load_routing, parse_agent, parse_queue, parse_routing
from routing.model import AgentConfig, InvalidConfig, QueueConfig

DEMO = Path(__file__).resolve().parents[2] / "routing" / "demo.yaml"


def test_defaults_keep_a_queue_voice_only_and_an_agent_on_one_call() -> None:
    q = parse_queue({"name": "q"})
    assert q.channels == ("voice",)
    assert (q.response_target("chat"), q.response_target("sms"), q.response_target("email"),
            q.response_target("voice")) == (60.0, 900.0, 14400.0, q.service_level)
    assert q.sticky_for == 3600.0
    a = parse_agent({"id": "a", "max_concurrent": 3})
    assert (a.capacity_for("voice"), a.capacity_for("chat"), a.capacity_for("email")) == (1, 3, 3)


def test_text_keys_are_read() -> None:
    q = parse_queue({"name": "q", "channels": ["chat", "email"],
                     "response_targets": {"email": 3600, "chat": 45}, "sticky_for": 0})
    assert q == QueueConfig("q", channels=("chat", "email"),
                            response_targets=(("chat", 45.0), ("email", 3600.0)), sticky_for=0.0)
    assert q.response_target("email") == 3600.0
    a = parse_agent({"id": "a", "max_concurrent": 3, "capacity": {"voice": 0, "chat": 3}})
    assert a == AgentConfig("a", max_concurrent=3, capacity={"voice": 0, "chat": 3})
    assert (a.capacity_for("voice"), a.capacity_for("sms")) == (0, 3)


@pytest.mark.parametrize(
    ("body", "where", "reason"),
    [
        ({"channels": []}, "body.channels",
         "must be a non-empty list of channels (voice, chat, sms, whatsapp, email), got a list"),
        ({"channels": "chat"}, "body.channels",
         "must be a non-empty list of channels (voice, chat, sms, whatsapp, email), got \"chat\""),
        ({"channels": ["chat", "fax"]}, "body.channels[1]",
         'must be one of voice, chat, sms, whatsapp, email, got "fax"'),
        ({"channels": ["chat", "chat"]}, "body.channels[1]", 'channel "chat" listed twice'),
        ({"response_targets": {"voice": 20}}, "body.response_targets.voice",
         'unknown key "voice"; known: chat, sms, whatsapp, email'),
        ({"response_targets": {"chat": 0}}, "body.response_targets.chat",
         "must be more than 0 seconds, got 0"),
        ({"sticky_for": -1}, "body.sticky_for", "must be 0 or more seconds, got -1"),
    ],
)
def test_queue_text_key_errors(body: dict[str, object], where: str, reason: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        parse_queue({"name": "q", **body})
    assert (info.value.where, info.value.reason) == (where, reason)


@pytest.mark.parametrize(
    ("body", "where", "reason"),
    [
        ({"capacity": {"voice": 2}, "max_concurrent": 3}, "body.capacity.voice",
         "must be an integer 0-1, got 2"),
        ({"capacity": {"chat": 4}, "max_concurrent": 3}, "body.capacity.chat",
         "chat capacity 4 is above max_concurrent 3 (the total across channels)"),
        ({"capacity": {"chat": -1}}, "body.capacity.chat", "must be an integer 0 or more, got -1"),
        ({"capacity": {"chats": 1}}, "body.capacity.chats",
         'unknown key "chats" (did you mean "chat"?)'),
        ({"capacity": [1]}, "body.capacity", "must be a mapping, got a list"),
    ],
)
def test_agent_capacity_errors(body: dict[str, object], where: str, reason: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        parse_agent({"id": "a", **body})
    assert (info.value.where, info.value.reason) == (where, reason)


def test_a_routing_file_names_the_line_of_a_bad_capacity() -> None:
    text = ("queues:\n  - name: q\n    channels: [voice, chat]\n"
            "agents:\n  - id: ana\n    max_concurrent: 2\n    queues: [q]\n"
            "    capacity: {voice: 1, chat: 3}\n")
    with pytest.raises(InvalidConfig) as info:
        parse_routing(text, "r.yaml")
    assert str(info.value) == (
        "r.yaml:8:32: agents[0].capacity.chat: chat capacity 3 is above max_concurrent 2 "
        "(the total across channels)")


def test_the_demo_serves_every_channel_with_capacities() -> None:
    routing = load_routing(DEMO)
    assert routing.queues["support"].channels == ("voice", "chat", "sms", "whatsapp", "email")
    ana = routing.agents["ana"]
    assert (ana.max_concurrent, ana.capacity_for("voice"), ana.capacity_for("chat")) == (3, 1, 2)
