"""The `metrics:` section of the config file: where `/metrics` is served and who may read it.

    metrics:
      require_role: admin     # on the main HTTP port, for this role or above (default admin)
    # or
    metrics:
      bind: 127.0.0.1         # a port of its own, without login (keep it off public nets)
      port: 9464

With `port`, `/metrics` is served only there (the main port answers 404), reachable by
whoever reaches that address: a scraper on a private network, no credential to leak. Without
it, `/metrics` is on the main port behind login: a Prometheus scrape sends a bearer token of
`auth.tokens` with the role (`authorization: {credentials_file: ...}` in its scrape config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web.auth.roles import ROLE_LABELS


class MetricsConfigError(ValueError):
    """The `metrics:` section is wrong; the message names the key."""


@dataclass(frozen=True)
class MetricsSettings:
    require_role: str = "admin"
    bind: str = "127.0.0.1"
    port: int | None = None
    enabled: bool = True


def parse_metrics(value: Any, where: str) -> MetricsSettings:
    """`metrics:` as read from YAML into `MetricsSettings`."""
    if not isinstance(value, dict):
        raise MetricsConfigError(f"{where} must be a mapping (require_role, bind, port, enabled)")
    unknown = set(value) - {"require_role", "bind", "port", "enabled"}
    if unknown:
        raise MetricsConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    role = value.get("require_role", "admin")
    if role not in ROLE_LABELS:
        raise MetricsConfigError(f"{where}.require_role must be one of {', '.join(ROLE_LABELS)}")
    bind = value.get("bind", "127.0.0.1")
    if not isinstance(bind, str) or not bind:
        raise MetricsConfigError(f"{where}.bind must be a host address")
    port = value.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                             or not 0 <= port < 65536):
        raise MetricsConfigError(f"{where}.port must be a port number (0-65535)")
    if "bind" in value and port is None:
        raise MetricsConfigError(f"{where}.bind needs a port")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise MetricsConfigError(f"{where}.enabled must be true or false")
    return MetricsSettings(role, bind, port, enabled)
