"""The sandbox's TLS identity: a self-signed certificate for localhost and 127.0.0.1.

Both official clients only speak TLS to a gRPC endpoint (AD_APIS.md 2.0, 3.3). The sandbox writes
its certificate to ``DIR/ca.pem`` before it listens, so a client can trust it as its CA.
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


def write_certificate(cert_dir: Path) -> tuple[bytes, bytes, Path]:
    """Create a fresh key and certificate; write ``ca.pem`` (and the key, 0600) to ``cert_dir``.

    Returns ``(key_pem, cert_pem, ca_path)``. The certificate is its own CA (basicConstraints
    CA:TRUE) so gRPC's verifier accepts it as a root, with SANs ``DNS:localhost, IP:127.0.0.1``.
    """
    cert_dir.mkdir(parents=True, exist_ok=True)
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
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_path = cert_dir / "key.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    ca_path = cert_dir / "ca.pem"
    tmp = cert_dir / "ca.pem.tmp"
    tmp.write_bytes(cert_pem)
    tmp.replace(ca_path)  # readers never see half a certificate
    return key_pem, cert_pem, ca_path
