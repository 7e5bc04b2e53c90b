"""Callbacks that keep their place, on real calls: a pjsua2 caller presses the callback key
while waiting, confirms its own number and is hung up; when its turn comes the agent (a
pjsua2 listener) is rung first, then the customer (another listener behind `--trunk`) is
called and the two are bridged. The stored callback survives `kill -9` of the server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import (
    agent,
    describe,
    ended_calls,
    live_board,
    queue,
    set_state,
    start_acd,
    until_agent,
    until_waiting,
    user_of,
    wait_for,
)
from tests.e2e.api import get_json
from tests.helpers.server import ServerProcess
from voice.pjsua.client import PjsuaListener, place_call

pytestmark = pytest.mark.slow

NUMBER = "612345678"  # a Spanish mobile: in the default dial plan (region ES)
# The callback key during the entry announcement, "1" (this number) in the offer menu, "1" to
# confirm: each a few seconds after the previous prompt began.
CALLBACK_KEYS = ((1.5, "1"), (4.5, "1"), (7.5, "1"))


def callback_queue(**settings: Any) -> dict[str, Any]:
    # 1.5 s of wrap-up: the desk (one pjsua2 listener) is done with the call it hung up before
    # the next offer rings it. 20 s to answer: a desk slowed down by a loaded machine is not
    # put on a break for a missed offer, which would leave everyone after it unserved.
    return queue("q", callback_key="1", wrapup=1.5, offer_timeout=20, **settings)


async def take_callback(server: ServerProcess) -> None:
    """Caller NUMBER waits, asks for a callback and confirms; the server hangs up on it."""
    result = await place_call(f"sip:100@{server.sip_target}", from_user=NUMBER,
                              dtmf_at=CALLBACK_KEYS, duration=30.0)
    assert result.connected, result
    assert result.remote_hangup, result  # the server said goodbye and hung up
    assert result.duration < 25.0, result


async def callbacks(server: ServerProcess, state: str) -> list[dict[str, Any]]:
    """The stored callbacks in `state` (or states: `waiting,dialing`)."""
    body = await get_json(server, f"/api/callbacks?state={state}")
    found: list[dict[str, Any]] = body["callbacks"]
    return found


async def test_callback_keeps_its_place_ahead_of_a_later_caller(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    async with PjsuaListener(duration=10.0) as desk, PjsuaListener() as customer:
        server = await start_acd(
            server_factory, tmp_path, queues=[callback_queue()],
            agents=[agent("a1", desk.uri, ["q"])], entry_queue="q",
            extra_args=["--trunk", f"127.0.0.1:{customer.port}"],
        )
        await set_state(server, "a1", "available")
        # c0 talks to the agent (10 s); c1 waits first, NUMBER second; c2 comes after NUMBER
        # has left with its callback and must be served after it. Each caller is placed once
        # the server has seen the one before (a worker can be slow to start).
        first = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", from_user="c0", duration=30.0))
        await until_agent(server, "a1", "on_call")
        second = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", from_user="c1", duration=40.0))
        await until_waiting(server, "q", 1)
        await take_callback(server)
        # c1 holds the agent now, so the callback waits; were it already being dialed, it
        # would still be the one c2 must come after.
        [pending] = await callbacks(server, "waiting,dialing")
        assert pending["number"] == NUMBER
        later = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", from_user="c2", duration=45.0))
        results = await asyncio.gather(first, second, later)
        assert all(r.connected for r in results), results
        order = [user_of(e.from_) for e in await ended_calls(desk, settle=3.0)]
        # A desk that saw too few calls: the board says whether the agent was left on a
        # break (a missed or failed offer) or is still held.
        assert order == ["c0", "c1", "callback", "c2"], (
            order, describe(await live_board(server)))
        [called] = await ended_calls(customer, settle=1.0)
        assert called.duration > 5.0, called  # bridged to the agent until the agent hung up
        [done] = await callbacks(server, "done")
        assert done["id"] == pending["id"] and done["attempts"] == 1
        case = await get_json(server, f"/api/cases/{done['case_id']}")
        notes = " | ".join(n["text"] for n in case["notes"])
        assert "Callback requested" in notes and "connected to agent a1" in notes, notes


async def test_a_waiting_callback_survives_kill_9(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    async with PjsuaListener(duration=3.0) as desk, PjsuaListener() as customer:
        args = ["--trunk", f"127.0.0.1:{customer.port}"]
        server = await start_acd(
            server_factory, tmp_path, queues=[callback_queue()],
            agents=[agent("a1", desk.uri, ["q"])], entry_queue="q", extra_args=args,
        )
        # Nobody is logged in: the caller waits, takes a callback and is hung up.
        await take_callback(server)
        [waiting] = await callbacks(server, "waiting")
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        assert await server.proc.wait() == -signal.SIGKILL
        # The same data directory (database), a new process.
        again = ServerProcess(server.workdir, server.options)
        await again.start()
        try:
            assert [c["id"] for c in await callbacks(again, "waiting")] == [waiting["id"]]
            await set_state(again, "a1", "available")

            async def done() -> list[dict[str, Any]]:
                return await callbacks(again, "done")

            [finished] = await wait_for(done, within=30.0, what="the callback carried out")
            assert finished["id"] == waiting["id"]
            [to_desk] = await ended_calls(desk, settle=6.0)
            assert user_of(to_desk.from_) == "callback"
            [to_customer] = await ended_calls(customer, settle=1.0)
            assert to_customer.duration > 1.0
        finally:
            with contextlib.suppress(Exception):
                await again.stop()
