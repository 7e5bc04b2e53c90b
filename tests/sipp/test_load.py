"""Call volume through SIPp's built-in `uac` (INVITE / 200 / ACK / BYE) over UDP, TCP, TLS."""

from __future__ import annotations

import pytest

from tests.helpers.server import ServerProcess
from tests.helpers.sipp import TlsBridge
from tests.sipp.conftest import Sipp


@pytest.mark.slow
@pytest.mark.heavy
async def test_uac_udp_1000_calls(server: ServerProcess, sipp: Sipp) -> None:
    result = await sipp.run(
        ["-m", "1000", "-r", "400", "-l", "400", "-d", "0", "-timeout", "40s",
         "-recv_timeout", "10000"],
        target=server.sip_target, builtin="uac", kill_after=60,
    )
    result.assert_calls(successful=1000)


async def test_uac_tcp_100_calls(server: ServerProcess, sipp: Sipp) -> None:
    result = await sipp.run(
        ["-t", "t1", "-m", "100", "-r", "100", "-d", "0", "-timeout", "30s",
         "-recv_timeout", "10000"],
        target=server.sip_target, builtin="uac", kill_after=45,
    )
    result.assert_calls(successful=100)


async def test_uac_tls_100_calls(server: ServerProcess, sipp: Sipp) -> None:
    # Debian's sipp has no OpenSSL ("-t l1" is refused), so SIPp speaks TCP to a local bridge
    # that relays over TLS to the server's TLS port; the scenario's Via says TLS.
    async with TlsBridge("127.0.0.1", server.tls_port) as bridge:
        result = await sipp.run(
            ["-t", "t1", "-m", "100", "-r", "100", "-d", "0", "-timeout", "30s",
             "-recv_timeout", "10000"],
            target=f"127.0.0.1:{bridge.port}", scenario_name="uac_tls", kill_after=45,
        )
    result.assert_calls(successful=100)
    assert bridge.connections >= 1


@pytest.mark.slow
@pytest.mark.heavy
async def test_uac_udp_1000_calls_with_5_percent_loss(server: ServerProcess, sipp: Sipp) -> None:
    """`-lost 5`: SIPp throws away 5% of the messages it sends *and* 5% of those it receives
    (retransmissions included; UDP only), so both sides' retransmission timers are exercised:
    SIPp's INVITE/BYE retransmissions (T1 = 500 ms) and the server's 2xx retransmissions
    until ACK and its re-answers to retransmitted requests. A 1 s call duration gives a lost
    ACK time for the server's 200 to be retransmitted inside the call. Every call must end.
    """
    result = await sipp.run(
        ["-lost", "5", "-m", "1000", "-r", "50", "-l", "400", "-d", "1000",
         "-timeout", "55s"],
        target=server.sip_target, builtin="uac", kill_after=75,
    )
    result.assert_calls(successful=1000)
    assert result.retransmissions > 0, result.report()
