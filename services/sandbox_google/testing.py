"""Testing helpers shipped with the sandbox: one TLS identity per process and the official clients.

The Google Ads client trusts only the roots named by ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, which
gRPC reads once per process, at its first TLS channel. ``install_session_trust()`` (called from
tests/conftest.py at import, before any channel) creates one identity for the whole process and
points that variable at the system CAs plus its certificate; every test sandbox then serves it
(``GoogleSandboxConfig(tls_identity=session_identity())``). Data Manager clients are given the
sandbox's CA per client instead (``dm_clients``).
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.sandbox_google.tls import new_identity, trust_bundle

_lock = threading.Lock()
_identity: tuple[bytes, bytes] | None = None


MARKER = "AUDIENCESYNC_GOOGLE_SANDBOX_ROOTS"  # inherited by child processes (test workers, CLIs)


def session_identity() -> tuple[bytes, bytes]:
    """The test session's one ``(key_pem, cert_pem)`` for test sandboxes.

    Test worker processes inherit the bundle's location from the process that installed it and
    read the same identity from beside it, so every process's sandboxes serve the certificate
    the inherited roots file trusts.
    """
    global _identity
    with _lock:
        if _identity is None:
            folder = Path(os.environ[MARKER]).parent if os.environ.get(MARKER) else None
            if folder is not None and (folder / "key.pem").is_file():
                _identity = ((folder / "key.pem").read_bytes(), (folder / "cert.pem").read_bytes())
            else:
                _identity = new_identity()
        return _identity


def install_session_trust() -> Path:
    """Point ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` at system CAs + the session certificate (idempotent)."""
    if os.environ.get(MARKER):
        return Path(os.environ[MARKER])
    folder = Path(tempfile.mkdtemp(prefix="google-sandbox-roots-"))
    key_pem, cert_pem = session_identity()
    (folder / "key.pem").write_bytes(key_pem)
    (folder / "cert.pem").write_bytes(cert_pem)
    bundle = trust_bundle(cert_pem, folder / "roots.pem")
    os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = str(bundle)
    os.environ[MARKER] = str(bundle)
    return bundle


@dataclass
class DataManagerClients:
    """Official Data Manager clients aimed at a sandbox; ``close()`` when done."""

    ingestion: Any
    user_lists: Any
    login: str = ""

    def list_metadata(self) -> tuple[tuple[str, str], ...]:
        """The optional ``login-account`` header UserListService reads."""
        return (("login-account", self.login),) if self.login else ()

    def close(self) -> None:
        """Close both channels."""
        self.ingestion.transport.close()
        self.user_lists.transport.close()


def dm_clients(endpoint: str, ca_pem: bytes, token: str, login_customer: str = "") -> DataManagerClients:
    """IngestionService and UserListService clients with per-client trust (AD_APIS.md 3.3)."""
    import grpc
    from google.ads import datamanager_v1 as dm
    from google.ads.datamanager_v1.services.ingestion_service.transports import IngestionServiceGrpcTransport
    from google.ads.datamanager_v1.services.user_list_service.transports import UserListServiceGrpcTransport
    from google.oauth2.credentials import Credentials

    ssl = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    options = {"api_endpoint": endpoint}
    credentials = Credentials(token=token)  # type: ignore[no-untyped-call]
    ingestion = dm.IngestionServiceClient(
        credentials=credentials,
        client_options=options,
        transport=functools.partial(IngestionServiceGrpcTransport, ssl_channel_credentials=ssl),
    )
    lists = dm.UserListServiceClient(
        credentials=credentials,
        client_options=options,
        transport=functools.partial(UserListServiceGrpcTransport, ssl_channel_credentials=ssl),
    )
    login = f"accountTypes/GOOGLE_ADS/accounts/{login_customer}" if login_customer else ""
    return DataManagerClients(ingestion, lists, login)


def ads_client(endpoint: str, developer_token: str, token: str, login_customer: str | None) -> Any:
    """The official GoogleAdsClient aimed at a sandbox (needs ``install_session_trust()``; AD_APIS.md 3.2)."""
    from google.ads.googleads.client import GoogleAdsClient
    from google.oauth2.credentials import Credentials

    return GoogleAdsClient(
        credentials=Credentials(token=token),  # type: ignore[no-untyped-call]
        developer_token=developer_token,
        endpoint=endpoint,
        login_customer_id=login_customer,
        use_proto_plus=True,
        version="v26",
    )
