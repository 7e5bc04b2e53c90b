"""TLS settings (issue 15 item 6): TLS 1.2 is the oldest version the SIP TLS listener accepts,
and a renewed certificate is served without a restart: `CertificateReloader.check()` in
process (polled by its task), and SIGHUP to a real `centralita serve` process. Certificates
are made with `cryptography` per test; a fresh handshake must show the new one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from centralita.tls import CertificateReloader, new_server_context, self_signed
from media.clock import LoopClock
from tests.conftest import ServerFactory
from tests.helpers.server import ServerOptions
from voice.sip.ua import SipUserAgent, UaConfig


def client(maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        # OpenSSL 3 refuses TLS < 1.2 at its default security level on the client side too;
        # lower it so that it is the server that refuses.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = maximum
    return ctx


async def handshake(port: int, ctx: ssl.SSLContext | None = None) -> tuple[int, asyncio.StreamWriter]:
    """Connect, finish the handshake; the server certificate's serial number and the writer."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx or client())
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number, writer


def serial_of(cert: Path) -> int:
    return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()


@pytest.fixture
async def tls_ua(tmp_path: Path):  # type: ignore[no-untyped-def]
    cert, key = tmp_path / "sip.crt", tmp_path / "sip.key"
    self_signed(cert, key)
    ctx = new_server_context(cert, key)
    ua = SipUserAgent(LoopClock(), UaConfig(hosts=("127.0.0.1",), udp_port=None, tcp_port=None,
                                            tls_port=0, tls_server_context=ctx))
    await ua.start()
    try:
        yield ua, CertificateReloader(ctx, cert, key, poll_seconds=0.05), cert, key
    finally:
        await ua.close()


async def test_tls_below_1_2_is_refused(tls_ua) -> None:  # type: ignore[no-untyped-def]
    ua, _, cert, _ = tls_ua
    port = ua.local_address("TLS")[1]
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await handshake(port, client(maximum=old))
    serial, writer = await handshake(port, client(maximum=ssl.TLSVersion.TLSv1_2))
    assert serial == serial_of(cert)
    assert writer.get_extra_info("ssl_object").version() == "TLSv1.2"
    await close(writer)


async def test_a_renewed_certificate_is_served_to_new_connections(  # type: ignore[no-untyped-def]
    tls_ua, tmp_path: Path
) -> None:
    ua, reloader, cert, key = tls_ua
    port = ua.local_address("TLS")[1]
    first, old_conn = await handshake(port)
    assert first == serial_of(cert)
    assert not reloader.check()  # nothing changed

    self_signed(cert, key)  # renewed in place, as certbot or an operator would
    second = serial_of(cert)
    assert second != first
    assert reloader.check() and reloader.reloads == 1
    seen, writer = await handshake(port)
    assert seen == second
    await close(writer)
    assert not old_conn.is_closing()  # the open connection is left alone
    await close(old_conn)

    # A certificate whose key does not match is refused whole; the last good one stays.
    other_cert, other_key = tmp_path / "o.crt", tmp_path / "o.key"
    self_signed(other_cert, other_key)
    cert.write_bytes(other_cert.read_bytes())
    assert not reloader.check() and reloader.failures == 1
    seen, writer = await handshake(port)
    assert seen == second
    await close(writer)
    key.write_bytes(other_key.read_bytes())  # the key arrives: the pair loads
    assert reloader.check()
    seen, writer = await handshake(port)
    assert seen == serial_of(other_cert)
    await close(writer)


async def test_the_poll_finds_a_renewal_by_itself(tls_ua) -> None:  # type: ignore[no-untyped-def]
    ua, reloader, cert, key = tls_ua
    port = ua.local_address("TLS")[1]
    reloader.start()
    try:
        self_signed(cert, key)
        for _ in range(100):
            if reloader.reloads:
                break
            await asyncio.sleep(0.05)
        seen, writer = await handshake(port)
        assert seen == serial_of(cert)
        await close(writer)
    finally:
        await reloader.close()


async def test_sighup_reloads_the_certificate_of_a_running_server(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(ServerOptions())
    assert server.cert_path is not None and server.key_path is not None
    first, writer = await handshake(server.tls_port)
    await close(writer)
    assert first == serial_of(server.cert_path)
    self_signed(server.cert_path, server.key_path)
    os.kill(server.pid, signal.SIGHUP)
    for _ in range(50):
        seen, writer = await handshake(server.tls_port)
        await close(writer)
        if seen != first:
            break
        await asyncio.sleep(0.1)
    assert seen == serial_of(server.cert_path) != first
    assert server.proc is not None and server.proc.returncode is None  # still the same process
