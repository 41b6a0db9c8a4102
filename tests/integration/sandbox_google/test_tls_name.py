"""A client that dials the sandbox by a ``--tls-name`` (a compose service name) verifies its TLS.

Name resolution is left out (this host has no ``sandbox-google``): the channel connects to
loopback and verifies the certificate for the name, as gRPC does when it dials that name.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from services.sandbox_google.config import GoogleSandboxConfig
from services.sandbox_google.server import run_google_sandbox

pytestmark = pytest.mark.integration


def _handshake(port: int, ca_pem: bytes, name: str, wait: float = 5.0) -> bool:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    options = [("grpc.ssl_target_name_override", name)]
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=options) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=wait)
        except grpc.FutureTimeoutError:
            return False
        return True


def test_certificate_verifies_for_the_tls_name_and_not_for_another(tmp_path: Path) -> None:
    config = GoogleSandboxConfig(cert_dir=tmp_path, tls_names=("sandbox-google",))
    with run_google_sandbox(config) as sandbox:
        ca_pem = sandbox.ca_pem_path.read_bytes()
        assert _handshake(sandbox.port, ca_pem, "sandbox-google")
        assert _handshake(sandbox.port, ca_pem, "localhost")
        assert not _handshake(sandbox.port, ca_pem, "sandbox-meta", wait=2.0)
