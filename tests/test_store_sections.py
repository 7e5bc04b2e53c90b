"""The `routing:` and `sessions:` sections: defaults, and every wrong key named."""

from __future__ import annotations

from typing import Any

import pytest

from centralita.routing_store_config import (
    RoutingStoreConfigError,
    RoutingStoreSettings,
    parse_routing_store,
)
from centralita.session_store_config import (
    SessionStoreConfigError,
    SessionStoreSettings,
    parse_session_store,
)


def test_defaults_and_a_full_section() -> None:
    assert parse_routing_store({}, "routing") == RoutingStoreSettings()
    assert parse_session_store({}, "sessions") == SessionStoreSettings()
    routing = parse_routing_store({"store": "redis", "redis_url": "redis://10.0.0.2:6379/1",
                                   "key_prefix": "cc:", "node_id": "node-a",
                                   "lease_ttl": 5}, "routing")
    assert routing == RoutingStoreSettings("redis", "redis://10.0.0.2:6379/1", "cc:",
                                           "node-a", 5.0)
    sessions = parse_session_store({"store": "redis", "key_prefix": "s:"}, "sessions")
    assert sessions == SessionStoreSettings("redis", SessionStoreSettings.redis_url, "s:")


@pytest.mark.parametrize(("section", "message"), [
    ([], "routing must be a mapping"),
    ({"stor": "redis"}, "routing: unknown key 'stor'"),
    ({"store": "disk"}, "routing.store must be memory or redis"),
    ({"redis_url": "http://x"}, "routing.redis_url must be a redis://"),
    ({"key_prefix": ""}, "routing.key_prefix must be text"),
    ({"node_id": "a:b"}, "routing.node_id must be text without spaces"),
    ({"lease_ttl": 0.1}, "routing.lease_ttl must be 0.5 to 3600 seconds"),
    ({"lease_ttl": True}, "routing.lease_ttl must be 0.5 to 3600 seconds"),
])
def test_a_wrong_routing_section_names_the_key(section: Any, message: str) -> None:
    with pytest.raises(RoutingStoreConfigError, match=message.replace(".", r"\.")):
        parse_routing_store(section, "routing")


@pytest.mark.parametrize(("section", "message"), [
    ("redis", "sessions must be a mapping"),
    ({"node_id": "a"}, "sessions: unknown key 'node_id'"),
    ({"store": "sql"}, "sessions.store must be memory or redis"),
    ({"redis_url": 6379}, "sessions.redis_url must be a redis://"),
    ({"key_prefix": 7}, "sessions.key_prefix must be text"),
])
def test_a_wrong_sessions_section_names_the_key(section: Any, message: str) -> None:
    with pytest.raises(SessionStoreConfigError, match=message.replace(".", r"\.")):
        parse_session_store(section, "sessions")
