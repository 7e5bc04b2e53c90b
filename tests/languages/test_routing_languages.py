"""Languages in routing: agents list what they speak, queues and calls ask for one, and only
agents speaking it are eligible (an agent who lists none speaks English)."""

from __future__ import annotations

import pytest

from routing.config import agent_to_dict, parse_agent, parse_queue, queue_to_dict
from routing.model import AgentState, AgentStatus, InvalidConfig, QueueEntry
from routing.strategies import eligible, language_skill, required_skills


def entry(skills: tuple[str, ...] = ()) -> QueueEntry:
    return QueueEntry(id="e", queue="help", seq=1, enqueued_mono=0.0, enqueued_wall=0.0,
                      skills=skills)


def free(agent_id: str) -> AgentStatus:
    return AgentStatus(agent_id, state=AgentState.AVAILABLE)


AGENTS = [
    parse_agent({"id": "ana", "queues": ["help"], "languages": ["es"]}),
    parse_agent({"id": "bob", "queues": ["help"]}),  # English by default
    parse_agent({"id": "eva", "queues": ["help"], "languages": ["en", "es"]}),
]


def ids(queue: dict[str, object], skills: tuple[str, ...] = ()) -> list[str]:
    q = parse_queue(queue)
    return [c.id for c in eligible(entry(skills), q, [(a, free(a.id)) for a in AGENTS])]


def test_a_spanish_call_reaches_only_spanish_speakers() -> None:
    assert ids({"name": "help"}, (language_skill("es"),)) == ["ana", "eva"]
    assert ids({"name": "help"}, (language_skill("en"),)) == ["bob", "eva"]
    assert ids({"name": "help"}) == ["ana", "bob", "eva"]  # no language asked: anyone


def test_a_queue_language_applies_when_the_call_brings_none() -> None:
    assert ids({"name": "help", "language": "es"}) == ["ana", "eva"]
    # The call's own language wins over the queue's.
    assert ids({"name": "help", "language": "es"}, (language_skill("en"),)) == ["bob", "eva"]
    q = parse_queue({"name": "help", "language": "es"})
    assert required_skills(entry(), q) == ("lang:es",)


def test_languages_round_trip_and_bad_codes_say_where() -> None:
    q = parse_queue({"name": "help", "language": "es"})
    assert parse_queue(queue_to_dict(q)) == q
    a = parse_agent({"id": "ana", "languages": ["es", "en"]})
    assert parse_agent(agent_to_dict(a)) == a
    with pytest.raises(InvalidConfig) as err:
        parse_agent({"id": "ana", "languages": ["es", "fr"]})
    assert "body.languages[1]" in str(err.value) and "'fr'" in str(err.value)
    with pytest.raises(InvalidConfig) as err:
        parse_queue({"name": "help", "language": "Spanish"})
    assert "body.language" in str(err.value)
    with pytest.raises(InvalidConfig, match="listed twice"):
        parse_agent({"id": "ana", "languages": ["es", "es"]})
