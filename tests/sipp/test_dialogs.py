"""Dialog handling with custom SIPp scenarios: CANCEL, BYE both ways, hold, OPTIONS."""

from __future__ import annotations

import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import ServerProcess
from tests.sipp.conftest import Sipp, sipp_server_options
from tests.sipp.debug_api import wait_for_call


async def test_options_out_of_dialog_is_answered_200(server: ServerProcess, sipp: Sipp) -> None:
    result = await sipp.run(
        ["-m", "5", "-r", "10", "-timeout", "15s"],
        target=server.sip_target, scenario_name="options", kill_after=30,
    )
    result.assert_calls(successful=5)


async def test_options_over_tcp(server: ServerProcess, sipp: Sipp) -> None:
    result = await sipp.run(
        ["-t", "t1", "-m", "2", "-r", "10", "-timeout", "15s"],
        target=server.sip_target, scenario_name="options", kill_after=30,
    )
    result.assert_calls(successful=2)


async def test_cancel_before_answer(server: ServerProcess, sipp: Sipp) -> None:
    """INVITE, 180, CANCEL: 200 for the CANCEL, 487 for the INVITE, ACK.

    Needs the demo to ring for a moment before answering; if the server answers 200 within
    the round trip after 180, SIPp reports the unexpected 200 in its error log.
    """
    result = await sipp.run(
        ["-m", "3", "-r", "5", "-timeout", "20s", "-recv_timeout", "8000",
         "-cid_str", "cancel-%u-%p@%s"],
        target=server.sip_target, scenario_name="uac_cancel", kill_after=40,
    )
    result.assert_calls(successful=3)
    call = await wait_for_call(server, "cancel-1-")
    assert call.get("state") is not None, call


async def test_bye_from_caller(server: ServerProcess, sipp: Sipp) -> None:
    result = await sipp.run(
        ["-m", "1", "-d", "1500", "-timeout", "20s", "-recv_timeout", "8000",
         "-cid_str", "callerbye-%u-%p@%s"],
        target=server.sip_target, builtin="uac", kill_after=40,
    )
    result.assert_calls(successful=1)
    await wait_for_call(server, "callerbye-1-", ended=True)


async def test_bye_from_server_after_demo_timeout(
    server_factory: ServerFactory, sipp: Sipp
) -> None:
    server = await server_factory(sipp_server_options(demo_hangup_after=2.0))
    result = await sipp.run(
        ["-m", "2", "-r", "10", "-timeout", "30s", "-cid_str", "serverbye-%u-%p@%s"],
        target=server.sip_target, scenario_name="uac_server_bye", kill_after=45,
    )
    result.assert_calls(successful=2)
    await wait_for_call(server, "serverbye-1-", ended=True)


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_reinvite_hold_and_unhold(
    server: ServerProcess, sipp: Sipp, transport: str
) -> None:
    result = await sipp.run(
        ["-t", transport, "-m", "1", "-timeout", "20s", "-recv_timeout", "8000"],
        target=server.sip_target, scenario_name="uac_hold", kill_after=40,
    )
    result.assert_calls(successful=1)
