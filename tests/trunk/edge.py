"""The far side of a carrier trunk, for tests: Debian's Kamailio as an authenticating edge
(`trunk_edge.cfg`: 407 digest challenges as Twilio's Elastic SIP Trunking sends them, over UDP
and TLS) in front of one pjsua2 phone, the customer being called.

`TrunkEdge` reuses the cluster tests' process handling (`tests.cluster.kamailio`): start in the
foreground, wait for an OPTIONS answer, SIGTERM then SIGKILL the process group. Its TLS
certificate names only `localhost` (no address), so a client that checks the name it dialed,
not the address it resolved, is the only one that gets through.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cluster.kamailio import KamailioProcess, kamailio_binary
from tests.helpers.server import free_port

EDGE_CFG = Path(__file__).with_name("trunk_edge.cfg")
ORIGINATION_CFG = Path(__file__).with_name("origination_edge.cfg")
# The carrier's address as the node sees it: not the phones' 127.0.0.1.
CARRIER_HOST = "127.0.0.3"
TRUNK_USER = "centralita-trunk"
TRUNK_PASSWORD = "s3cret-from-the-credential-list"


def localhost_certificate(cert_path: Path, key_path: Path) -> None:
    """A self-signed certificate for the DNS name `localhost` only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class _Edge(KamailioProcess):
    """Kamailio with one of this directory's configurations, a UDP port on 127.0.0.1 (the
    OPTIONS the start waits for) and a TLS port with a certificate for `localhost`."""

    config: Path
    name: str

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, [], children=2)
        self.workdir = workdir / self.name
        self.log_path = self.workdir / "kamailio.log"
        self.list_path = self.workdir / "dispatcher.list"
        self.tls_port = free_port()
        self.cert = self.workdir / "edge.crt"
        self.key = self.workdir / "edge.key"

    def tls_listen(self) -> str:
        return f"tls:127.0.0.1:{self.tls_port}"

    def config_defines(self) -> dict[str, str]:
        raise NotImplementedError

    def build_argv(self) -> list[str]:
        run_dir = self.workdir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        localhost_certificate(self.cert, self.key)
        defines = {"TLS_CERT": f'"{self.cert}"', "TLS_KEY": f'"{self.key}"',
                   **self.config_defines()}
        argv = [
            kamailio_binary(), "-DD", "-E", "-f", str(self.config),
            "-l", f"udp:{self.target}", "-l", self.tls_listen(),
            "-P", str(self.workdir / "kamailio.pid"), "-Y", str(run_dir),
            "-w", str(self.workdir), "-m", "64", "-M", "8",
        ]
        for name, value in defines.items():
            argv += ["-A", f"{name}={value}"]
        return argv

    def log_lines(self, marker: str) -> list[str]:
        """The edge's own log lines containing `marker` (e.g. "edge: authorised")."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if marker in line]


class TrunkEdge(_Edge):
    """Challenging every INVITE, relaying authorised ones to `customer` (host:port)."""

    config = EDGE_CFG
    name = "trunk-edge"

    def __init__(self, workdir: Path, customer: str, *, password: str = TRUNK_PASSWORD) -> None:
        super().__init__(workdir)
        self.customer = customer
        self.password = password

    def config_defines(self) -> dict[str, str]:
        return {"TRUNK_USER": f'"{TRUNK_USER}"', "TRUNK_PASSWORD": f'"{self.password}"',
                "CUSTOMER": f'"sip:{self.customer}"'}


class OriginationEdge(_Edge):
    """Relaying every INVITE it gets to `node` (host:port of the node's SIP TLS listener) over
    TLS, sent from CARRIER_HOST: a carrier delivering calls to us."""

    config = ORIGINATION_CFG
    name = "origination-edge"

    def __init__(self, workdir: Path, node: str) -> None:
        super().__init__(workdir)
        self.node = node

    def tls_listen(self) -> str:
        return f"tls:{CARRIER_HOST}:{self.tls_port}"

    def config_defines(self) -> dict[str, str]:
        return {"NODE": f'"sip:{self.node};transport=tls"',
                "SEND_SOCKET": f'"{self.tls_listen()}"'}
