"""The `routing:` section of the config file: where the ACD keeps its live state.

    routing:
      store: redis                       # memory (default: one process) or redis (several nodes)
      redis_url: redis://127.0.0.1:6379/0
      key_prefix: "centralita:routing:"  # nodes of one cluster share it
      node_id: node-a                    # default: a new random id at each start
      lease_ttl: 10                      # seconds without a heartbeat before others take over

With `redis`, every node pointing at the same Redis and prefix shares the queues' lines, the
agents' states and the place-in-line counter (routing.redis_store); callbacks, records and
configs still go to the database (`cases_url`, PostgreSQL for a cluster). A node that keeps
its `node_id` across restarts resumes its own callbacks; two live nodes must never share one
(the second to start would take the first one's work as its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from centralita.redis_config import DEFAULT_REDIS_URL, parse_store_section


class RoutingStoreConfigError(Exception):
    """The `routing:` section is wrong; the message names the key."""


@dataclass(frozen=True)
class RoutingStoreSettings:
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = DEFAULT_REDIS_URL
    key_prefix: str = "centralita:routing:"
    node_id: str | None = None
    lease_ttl: float = 10.0


_KEYS = {"store", "redis_url", "key_prefix", "node_id", "lease_ttl"}


def parse_routing_store(value: Any, where: str) -> RoutingStoreSettings:
    """The section's settings, or RoutingStoreConfigError naming `where` and the key."""
    store, url, prefix = parse_store_section(
        value, where, keys=_KEYS, default_prefix=RoutingStoreSettings.key_prefix,
        error=RoutingStoreConfigError)
    node_id = value.get("node_id")
    if node_id is not None and (not isinstance(node_id, str) or not node_id
                                or any(c in node_id for c in ":*?[] ")):
        raise RoutingStoreConfigError(
            f"{where}.node_id must be text without spaces, ':' or glob characters")
    ttl = value.get("lease_ttl", RoutingStoreSettings.lease_ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0.5 <= ttl <= 3600:
        raise RoutingStoreConfigError(f"{where}.lease_ttl must be 0.5 to 3600 seconds")
    return RoutingStoreSettings(store, url, prefix, node_id, float(ttl))
