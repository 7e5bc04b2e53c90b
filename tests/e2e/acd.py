"""Setting up ACD scenarios on a real server: a flow that queues, a routing file whose agents
are pjsua2 listeners, and the API calls that log agents in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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
    config: dict[str, Any] | None = None,
) -> ServerProcess:
    """A server whose default flow puts every caller in `entry_queue`; `config`: more of its
    config file's sections."""
    conf = tmp_path / workdir_name
    conf.mkdir(exist_ok=True)
    flows = conf / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "acd.yaml").write_text(QUEUE_FLOW.format(queue=entry_queue))
    routing = conf / "routing.yaml"
    routing.write_text(yaml.safe_dump({"queues": queues, "agents": agents}, sort_keys=False))
    args = ["--flows", str(flows), "--routing", str(routing),
            "--transcription", "whisper" if transcription else "off", *(extra_args or [])]
    return await server_factory(ServerOptions(config=config or {}, extra_args=args))


async def set_state(server: ServerProcess, agent_id: str, state: str,
                    reason: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"state": state}
    if reason is not None:
        body["reason"] = reason
    reply: dict[str, Any] = await send_json(server, "PUT", f"/api/agents/{agent_id}/state",
                                            body)
    return reply


async def live_board(server: ServerProcess) -> dict[str, Any]:
    """`GET /api/routing/live`: every queue's line and every agent's state right now."""
    board: dict[str, Any] = await get_json(server, "/api/routing/live")
    return board


async def agent_status(server: ServerProcess, agent_id: str) -> dict[str, Any]:
    status: dict[str, Any] = (await live_board(server))["agents"][agent_id]
    return status


def describe(board: dict[str, Any]) -> str:
    """The live board in one line, for an assertion's message (`a1 break (missed-offer) for
    12.3 s; q: 1 waiting, 0 callbacks`): what a failure needs to say why nobody was served."""
    agents = [f"{a} {s['state']}" + (f" ({s['reason']})" if s.get("reason") else "")
              + f" for {s['since']} s" for a, s in board["agents"].items()]
    queues = [f"{q}: {line['waiting']} waiting, {line['callbacks_waiting']} callbacks"
              for q, line in board["queues"].items()]
    return "; ".join(agents + queues)


async def until_board(server: ServerProcess, holds: Callable[[dict[str, Any]], bool], *,
                      within: float, what: str) -> dict[str, Any]:
    """Poll the live board until `holds(board)`; a timeout says what the board showed last.

    Tests wait for what the server has seen (a caller in line, an agent on a call) rather
    than sleep: a pjsua2 worker can take seconds to start on a loaded machine, and a caller
    placed later must not overtake one placed earlier."""
    deadline = time.monotonic() + within
    while True:
        board = await live_board(server)
        if holds(board):
            return board
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {within:g} s (board: {describe(board)})")
        await asyncio.sleep(0.1)


async def until_agent(server: ServerProcess, agent_id: str, *states: str,
                      within: float = 20.0) -> dict[str, Any]:
    """Wait until the agent's live state is one of `states`; returns their status."""
    board = await until_board(server, lambda b: b["agents"][agent_id]["state"] in states,
                              within=within, what=f"agent {agent_id} {' or '.join(states)}")
    status: dict[str, Any] = board["agents"][agent_id]
    return status


async def until_answered(server: ServerProcess, queue_name: str, count: int, *,
                         within: float = 20.0) -> None:
    """Wait until the queue has answered `count` callers today."""
    await until_board(server, lambda b: b["queues"][queue_name]["today"]["answered"] == count,
                      within=within, what=f"{count} answered in queue {queue_name}")


async def until_waiting(server: ServerProcess, queue_name: str, count: int, *,
                        within: float = 20.0) -> None:
    """Wait until `count` callers wait in the queue (callbacks not counted)."""
    await until_board(server, lambda b: b["queues"][queue_name]["waiting"] == count,
                      within=within, what=f"{count} waiting in queue {queue_name}")


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
