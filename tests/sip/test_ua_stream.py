"""The UAS path over TCP and TLS: framing, connection reuse, responses on the same connection."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from media.clock import LoopClock
from tests.sip.rawclient import RawClient, make_request
from voice.sip.session import InviteSession
from voice.sip.ua import SipUserAgent, UaConfig

SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"


def make_cert(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = make_cert(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cert)
    return server, client


@pytest.fixture
async def ua(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> AsyncIterator[SipUserAgent]:
    def on_invite(s: InviteSession) -> None:
        s.ring()
        s.answer(SDP)

    agent = SipUserAgent(LoopClock(), UaConfig(
        udp_port=None, tcp_port=0, tls_port=0, tls_server_context=tls[0],
        tls_client_context=tls[1], idle_timeout=0.6,
    ), on_invite=on_invite)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.close()


@pytest.mark.parametrize("transport", ["TCP", "TLS"])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_call_over_stream(
    ua: SipUserAgent, tls: tuple[ssl.SSLContext, ssl.SSLContext], transport: str, host: str
) -> None:
    client = await RawClient(transport, ua.local_address(transport, host)).open(
        tls[1] if transport == "TLS" else None)
    try:
        text, call_id, _ = make_request(client, "INVITE", body=SDP.decode())
        # Split the INVITE across two writes and prepend a keep-alive: framing must cope.
        client.send(b"\r\n\r\n" + text.encode()[:50])
        client.send(text.encode()[50:])
        assert [(await client.recv_response()).status for _ in range(2)] == [100, 180]
        ok = await client.recv_response()
        assert ok.status == 200 and ok.body == SDP
        assert f";transport={transport.lower()}" in (ok.headers.get("Contact") or "")
        assert ua.metrics["connections"] == 1
        client.send(make_request(client, "ACK", call_id=call_id, to_tag=ok.to_tag)[0])
        client.send(make_request(client, "BYE", call_id=call_id, to_tag=ok.to_tag, cseq=2)[0])
        assert (await client.recv_response()).status == 200
        # Reliable transport: no 2xx retransmissions.
        await client.expect_silence(0.3)
    finally:
        await client.close()


async def test_idle_connection_closed(ua: SipUserAgent) -> None:
    client = await RawClient("TCP", ua.local_address("TCP")).open()
    try:
        client.send(make_request(client, "OPTIONS")[0])
        assert (await client.recv_response()).status == 200
        assert ua.metrics["connections"] == 1
        with pytest.raises(TimeoutError):
            await client.recv_raw(1.5)
        assert ua.metrics["connections"] == 0
    finally:
        await client.close()


async def test_unframable_stream_closes_connection(ua: SipUserAgent) -> None:
    client = await RawClient("TCP", ua.local_address("TCP")).open()
    try:
        client.send(make_request(client, "OPTIONS")[0].replace("Content-Length: 0", "X: y"))
        with pytest.raises(TimeoutError):
            await client.recv_raw(0.3)
        assert ua.metrics["malformed"] == 1 and ua.metrics["connections"] == 0
    finally:
        await client.close()
