"""TLS for SIP: the operator's certificate, or a self-signed one made once in the data dir.

The embedded default must run with no set-up, so when no certificate is configured a
self-signed one for localhost is generated (and reused on later starts). TLS 1.2 is the
oldest version accepted.

Certificates are renewed without a restart: `CertificateReloader` loads the files again into
the same `SSLContext` when their modification time or size changes (polled by its task, or at
once with `check()`, which `centralita serve` calls on SIGHUP). Connections made from then on
present the new certificate; open ones keep theirs. A pair that does not load (a certificate
written before its key, a key that does not match) is refused whole and the old one stays,
with a warning, until the files change again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

# How often the certificate files are looked at (a stat each; renewals are rare).
RELOAD_POLL_SECONDS = 30.0


def self_signed(cert_path: Path, key_path: Path, host: str = "localhost") -> None:
    """Write a self-signed EC certificate for `host`, 127.0.0.1 and ::1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(host),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def server_files(cert: Path | None, key: Path | None, data_dir: Path) -> tuple[Path, Path]:
    """The certificate and key to serve: the configured ones, else the data dir's own."""
    if cert is None or key is None:
        cert, key = data_dir / "tls" / "sip.crt", data_dir / "tls" / "sip.key"
        if not cert.exists() or not key.exists():
            self_signed(cert, key)
    return cert, key


def new_server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context presenting `cert`, TLS 1.2 or later. Raises OSError / ssl.SSLError."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def server_context(cert: Path | None, key: Path | None, data_dir: Path) -> ssl.SSLContext:
    return new_server_context(*server_files(cert, key, data_dir))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@dataclass
class CertificateReloader:
    """Keeps `context` presenting what `cert` and `key` hold now (see the module docstring)."""

    context: ssl.SSLContext
    cert: Path
    key: Path
    poll_seconds: float = RELOAD_POLL_SECONDS
    reloads: int = 0
    failures: int = 0
    _seen: tuple[object, ...] = field(default=(), init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._seen = (_stamp(self.cert), _stamp(self.key))

    def check(self) -> bool:
        """Reload when either file changed since the last look; True when it did."""
        seen = (_stamp(self.cert), _stamp(self.key))
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            # Loaded into a scratch context first: a failed load_cert_chain may have replaced
            # the certificate of the context it ran on before refusing the key.
            new_server_context(self.cert, self.key)
            self.context.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as exc:
            self.failures += 1
            log.warning("TLS certificate %s not reloaded, the old one stays: %s", self.cert, exc)
            return False
        self.reloads += 1
        log.info("TLS certificate %s reloaded", self.cert)
        return True

    def start(self) -> None:
        """Poll every `poll_seconds` in a task `close()` cancels."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            self.check()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
