"""The sandbox's TLS identity: a self-signed certificate for localhost, 127.0.0.1 and named hosts.

Both official clients only speak TLS to a gRPC endpoint (AD_APIS.md 2.0, 3.3). The sandbox writes
its certificate to ``DIR/ca.pem`` before it listens, so a client can trust it as its CA. A test
session may pass one identity to every sandbox it starts: the Google Ads client trusts roots
from ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, which gRPC reads once per process.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def new_identity(names: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """A new EC key and a self-signed certificate, PEM: ``(key_pem, cert_pem)``.

    The certificate is its own CA (basicConstraints CA:TRUE) so gRPC's verifier accepts it as a
    root, with SANs ``DNS:localhost, IP:127.0.0.1`` and ``DNS:<name>`` for each of ``names`` (the
    host name other containers reach it by, e.g. its compose service); valid for a year.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "audiencesync Google sandbox")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    *(x509.DNSName(name) for name in names),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def write_certificate(
    cert_dir: Path, identity: tuple[bytes, bytes] | None = None, names: tuple[str, ...] = ()
) -> tuple[bytes, bytes, Path]:
    """Write ``ca.pem`` (and the key, mode 0600) to ``cert_dir``: given, else new for ``names``.

    Returns ``(key_pem, cert_pem, ca_path)``.
    """
    cert_dir.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = identity or new_identity(names)
    fd = os.open(cert_dir / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    ca_path = cert_dir / "ca.pem"
    tmp = cert_dir / "ca.pem.tmp"
    tmp.write_bytes(cert_pem)
    tmp.replace(ca_path)  # readers never see half a certificate
    return key_pem, cert_pem, ca_path


def trust_bundle(cert_pem: bytes, path: Path, system_roots: Path | None = None) -> Path:
    """System CAs plus the sandbox certificate in one file, for ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``."""
    roots = system_roots or Path(
        os.environ.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "/etc/ssl/certs/ca-certificates.crt")
    )
    system = roots.read_bytes() if roots.is_file() else b""
    path.write_bytes(system.rstrip(b"\n") + b"\n" + cert_pem)
    return path
