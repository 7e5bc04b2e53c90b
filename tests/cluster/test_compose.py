"""docker-compose.yml: the scale-out topology is a valid Compose file and agrees with itself.

`docker compose config` (or the older `docker-compose config`) parses and resolves the file
without a Docker engine. Without either client the test skips, and fails under CI=true
(scripts/setup.sh installs Debian's docker-compose). The resolved file must have Kamailio,
two nodes, PostgreSQL and Redis; Kamailio's dispatcher list must name exactly the nodes' SIP
ports; each node's config must keep routing state and sessions in Redis under its own node_id
(checked with the server's own parsers).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from centralita.routing_store_config import parse_routing_store
from centralita.session_store_config import parse_session_store

REPO = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy]
    message = "no `docker compose` or `docker-compose` client (scripts/setup.sh installs one)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def resolved_compose() -> dict[str, Any]:
    done = subprocess.run(
        [*compose_command(), "-f", str(REPO / "docker-compose.yml"), "config"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, f"compose config failed:\n{done.stderr[-3000:]}"
    config = yaml.safe_load(done.stdout)
    assert isinstance(config, dict)
    return config


def _arg(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """{container path: host path} of a service's bind mounts (either syntax of the file)."""
    out: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        out[target] = source
    return out


def test_compose_topology_is_valid_and_consistent() -> None:
    services = resolved_compose()["services"]
    assert set(services) == {"kamailio", "node1", "node2", "postgres", "redis"}

    node_sip: list[str] = []
    node_ids: list[str] = []
    for name in ("node1", "node2"):
        command = services[name]["command"]
        node_sip.append(_arg(command, "--sip-listen").rsplit(":", 1)[1])
        host_config = _arg(command, "--config")
        source = _mounts(services[name])[host_config]
        config = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        routing = parse_routing_store(config["routing"], f"{name}: routing")
        sessions = parse_session_store(config["sessions"], f"{name}: sessions")
        assert routing.store == "redis" and sessions.store == "redis"
        assert config["cases_url"].startswith("postgresql://")
        assert routing.node_id is not None, f"{name} has no routing.node_id"
        node_ids.append(routing.node_id)
    assert len(set(node_ids)) == 2, f"the nodes share a node_id: {node_ids}"
    assert len(set(node_sip)) == 2

    kamailio = services["kamailio"]
    ds_list = re.search(r'DS_LIST="([^"]+)"', " ".join(kamailio["command"]))
    assert ds_list is not None, kamailio["command"]
    text = Path(_mounts(kamailio)[ds_list.group(1)]).read_text(encoding="utf-8")
    dispatched = re.findall(r"^1 sip:[^:\s]+:(\d+)", text, re.M)
    assert sorted(dispatched) == sorted(node_sip), (dispatched, node_sip)
