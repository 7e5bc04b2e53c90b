"""A visitor who leaves (closes the page, loses the network) while the server is still
writing to their chat socket: their line is kept, and the socket's end is an ordinary end,
not a server error (before, the write to the closing transport escaped the socket's handler
and aiohttp logged "Error handling request" with a traceback)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.channels.test_chat_socket import Rig, hello, rig  # noqa: F401 - the fixture


async def test_a_visitor_gone_while_the_server_writes_is_no_server_error(
    rig: Rig, caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    caplog.set_level(logging.INFO)
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    await ws.send_json({"type": "message", "id": "c1", "body": "Bye, I am closing the tab"})
    # Gone before the receipt: the connection is cut under the socket, no closing handshake.
    transport = ws._response.connection.transport  # type: ignore[union-attr]
    assert transport is not None
    transport.abort()
    case_id, _ = await rig.case_of("visitor:" + token.split(".")[0])
    for _ in range(100):
        if [m["body"] for m in await rig.chat_messages(case_id)]:
            break
        await asyncio.sleep(0.05)
    assert [m["body"] for m in await rig.chat_messages(case_id)] == [
        "Bye, I am closing the tab"]
    await asyncio.sleep(0.5)  # the handler's write, and its end
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
