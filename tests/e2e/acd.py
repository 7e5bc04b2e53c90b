"""Setting up ACD scenarios on a real server: a flow that queues, a routing file whose agents
are pjsua2 listeners, and the API calls that log agents in."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ServerFactory
from tests.e2e.api import get_json, send_json
from tests.helpers.server import ServerOptions, ServerProcess
from voice.pjsua.client import PjsuaListener, PjsuaTimeoutError
from voice.pjsua.protocol import CallEnded

QUEUE_FLOW = """\
name: acd
default: true
steps:
  - queue: {{name: {queue}, on_timeout: after}}
  - hangup
  - label: after
    say: "Sorry, nobody could take your call."
  - hangup
"""


def queue(name: str, **settings: Any) -> dict[str, Any]:
    """A queue definition with quiet defaults for tests (no music, no announcements)."""
    base: dict[str, Any] = {"name": name, "moh": None, "announce_every": 0,
                            "callback_key": None, "wrapup": 0.5, "offer_timeout": 10}
    base.update(settings)
    return base


def agent(agent_id: str, contact: str, queues: list[str], **settings: Any) -> dict[str, Any]:
    return {"id": agent_id, "contact": contact, "queues": queues, **settings}


async def start_acd(
    server_factory: ServerFactory, tmp_path: Path, *, queues: list[dict[str, Any]],
    agents: list[dict[str, Any]], entry_queue: str, extra_args: list[str] | None = None,
    workdir_name: str = "acd", transcription: bool = False,
) -> ServerProcess:
    """A server whose default flow puts every caller in `entry_queue`."""
    conf = tmp_path / workdir_name
    conf.mkdir(exist_ok=True)
    flows = conf / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "acd.yaml").write_text(QUEUE_FLOW.format(queue=entry_queue))
    routing = conf / "routing.yaml"
    routing.write_text(yaml.safe_dump({"queues": queues, "agents": agents}, sort_keys=False))
    args = ["--flows", str(flows), "--routing", str(routing),
            "--transcription", "whisper" if transcription else "off", *(extra_args or [])]
    return await server_factory(ServerOptions(extra_args=args))


async def set_state(server: ServerProcess, agent_id: str, state: str,
                    reason: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"state": state}
    if reason is not None:
        body["reason"] = reason
    reply: dict[str, Any] = await send_json(server, "PUT", f"/api/agents/{agent_id}/state",
                                            body)
    return reply


async def agent_status(server: ServerProcess, agent_id: str) -> dict[str, Any]:
    live = await get_json(server, "/api/routing/live")
    status: dict[str, Any] = live["agents"][agent_id]
    return status


async def wait_for(predicate: Any, *, within: float, what: str) -> Any:
    """Poll an async predicate until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {within:g} s (last: {value!r})")
        await asyncio.sleep(0.2)


def user_of(uri: str) -> str:
    """`c1` of `<sip:c1@127.0.0.1:5060>`."""
    return uri.split("sip:", 1)[1].split("@", 1)[0]


async def ended_calls(listener: PjsuaListener, *, settle: float = 2.0) -> list[CallEnded]:
    """Every call the listener has ended, once none has ended for `settle` seconds."""
    while True:
        try:
            await listener.next_call(timeout=settle)
        except PjsuaTimeoutError:
            return list(listener.events)
